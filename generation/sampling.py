"""Per-sequence sampling for the batched engine, on llama.cpp's own sampler chains.

Each sequence owns one chain: repeat penalty -> top-p -> min-p -> temperature -> seeded dist, or
repeat penalty -> greedy. It runs on the sequence's top-k (40) candidates, which numpy picks
from a zero-copy view of the logits row: ``llama_sampler_sample`` would first copy all 262k
logits into a candidate array and, with the penalty first as llama-cpp-python orders it, look
each of the 262k tokens up in the penalty's history: 2.8 ms per token against 0.9 ms with top-k
first (measured, 2 busy cores), ~25% of a 16-sequence step. The only difference from ``Llama``'s
order (penalty before top-k) is that a penalized token cannot let the 41st-best token in.

Grammars: a grammar sampler checks every candidate token against the grammar, which on Gemma 3's
262k-token vocabulary cut generation from 50 to 9.5 tok/s (measured). So a constrained sequence
samples unconstrained first and asks the grammar about that one token; only when the grammar
rejects it is the grammar applied to the whole vocabulary and the token re-sampled (llama.cpp's
common sampler does the same). The result follows the grammar-constrained distribution: a token
the model would pick anyway is accepted, a rejected one is replaced by a draw from the
constrained candidates.
"""

from __future__ import annotations

import ctypes
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from outreach.errors import ModelError

try:
    import llama_cpp as _lc
except ImportError:  # the streaming path installs no llama.cpp; the engine raises ModelError
    _lc = None  # type: ignore[assignment]

# llama-cpp-python's Llama keeps the last 64 tokens for the repeat penalty, and samples with
# top_k=40 and min_p=0.05 unless told otherwise; the same defaults keep both engines alike.
PENALTY_LAST_N = 64
TOP_K = 40
MIN_P = 0.05
# Candidates are the top-k among the logits within this distance of the row's maximum (one
# vectorized pass, ~0.1 ms for 262k logits). A token 12 below the maximum has e^-12 = 6e-6 of
# its probability, and min-p (0.05 = 3.0 below) drops it whatever else happens; only a
# repeat penalty (dividing the maximum by up to 1.1) can pull the bar down, so the window
# grows by what the penalty can take off the maximum.
_TOP_K_WINDOW = 12.0
_TOKEN_DATA = np.dtype([("id", np.int32), ("logit", np.float32), ("p", np.float32)], align=True)


@dataclass(frozen=True)
class SamplingParams:
    """How one sequence picks its tokens; ``temperature == 0`` is greedy (argmax)."""

    temperature: float
    top_p: float
    repeat_penalty: float
    seed: int
    top_k: int = TOP_K
    min_p: float = MIN_P


def _chain(n_vocab: int, params: SamplingParams) -> Any:
    chain = _lc.llama_sampler_chain_init(_lc.llama_sampler_chain_default_params())
    if chain is None:
        raise ModelError("llama.cpp could not create a sampler chain")
    add = _lc.llama_sampler_chain_add  # the chain owns (and frees) what is added to it
    if params.repeat_penalty != 1.0:
        add(chain, _lc.llama_sampler_init_penalties(n_vocab, PENALTY_LAST_N,
                                                    params.repeat_penalty, 0.0, 0.0))
    if params.temperature <= 0.0:
        add(chain, _lc.llama_sampler_init_greedy())
        return chain
    add(chain, _lc.llama_sampler_init_top_p(params.top_p, 1))
    add(chain, _lc.llama_sampler_init_min_p(params.min_p, 1))
    add(chain, _lc.llama_sampler_init_temp(params.temperature))
    # llama.cpp takes a uint32 seed; 0xFFFFFFFF means "random", which would break determinism.
    add(chain, _lc.llama_sampler_init_dist(params.seed % 0xFFFFFFFF))
    return chain


def logits_row(ctx: Any, index: int, n_vocab: int) -> np.ndarray:
    """The logits of batch index ``index`` as a zero-copy view (valid until the next decode)."""
    pointer = _lc.llama_get_logits_ith(ctx, index)
    if not pointer:
        raise ModelError(f"no logits for batch index {index}")
    return np.ctypeslib.as_array(pointer, shape=(n_vocab,))


def top_k_ids(row: np.ndarray, k: int, repeat_penalty: float = 1.0) -> np.ndarray:
    """Ids of the ``k`` largest entries of ``row`` that lie within the window of its maximum
    (unordered; fewer than ``k`` when the row is peaked).

    A fine-tuned miniature is confident: mid-email, often fewer than 40 logits lie within 12
    of the maximum. Filling up to k from further down took a full argpartition, 2.2 ms per
    row against 0.1 ms, and made sampling 22% of the engine's wall time (2.3 ms per token on
    the bench workload, measured) for candidates min-p always drops.
    """
    if k >= len(row):
        return np.arange(len(row))
    if repeat_penalty < 1.0:  # a penalty below 1 raises logits: no window bounds them
        return np.argpartition(row, -k)[-k:]
    top = float(row.max())
    window = _TOP_K_WINDOW + max(0.0, top) * (1.0 - 1.0 / repeat_penalty)
    near = np.flatnonzero(row >= top - window)
    if len(near) > k:
        near = near[np.argpartition(row[near], -k)[-k:]]
    return near


def logits_rows(ctx: Any, n_rows: int, n_vocab: int) -> np.ndarray:
    """The logits of the first ``n_rows`` outputs of the last decode as one zero-copy
    [n_rows, n_vocab] view (llama.cpp returns them in batch order); valid until the next decode."""
    pointer = _lc.llama_get_logits(ctx)
    if not pointer:
        raise ModelError("the last decode kept no logits")
    return np.ctypeslib.as_array(pointer, shape=(n_rows, n_vocab))


def top_k_rows(rows: np.ndarray, ks: Sequence[int],
               repeat_penalties: Sequence[float]) -> list[np.ndarray]:
    """``top_k_ids`` of every row of ``rows`` (the same ids in the same order), with the
    per-row maximum and window test done for all rows in one numpy pass instead of a few
    small calls per row: one engine step samples every running sequence at once."""
    n, n_vocab = rows.shape
    if n == 0:
        return []
    tops = rows.max(axis=1).astype(np.float64)
    penalties = np.asarray(repeat_penalties, dtype=np.float64)
    window = _TOP_K_WINDOW + np.maximum(tops, 0.0) * (1.0 - 1.0 / penalties)
    # float32 thresholds: top_k_ids compares the float32 row with a Python float, which numpy
    # converts to float32, so the same rounding keeps the same candidates.
    near_r, near_c = np.nonzero(rows >= (tops - window).astype(np.float32)[:, None])
    bounds = np.searchsorted(near_r, np.arange(n + 1))
    out = []
    for i, (k, penalty) in enumerate(zip(ks, repeat_penalties)):
        if k >= n_vocab:
            out.append(np.arange(n_vocab))
        elif penalty < 1.0:
            out.append(np.argpartition(rows[i], -k)[-k:])
        else:
            near = near_c[bounds[i]:bounds[i + 1]]
            if len(near) > k:
                near = near[np.argpartition(rows[i][near], -k)[-k:]]
            out.append(near)
    return out


class SequenceSampler:
    """One sequence's sampler chain plus, optionally, its grammar. Not thread-safe."""

    def __init__(self, model: Any, params: SamplingParams, grammar: str | None = None) -> None:
        vocab = self._vocab = _lc.llama_model_get_vocab(model)
        self.n_vocab = int(_lc.llama_vocab_n_tokens(vocab))
        self._k = max(1, params.top_k)
        self._penalty = params.repeat_penalty
        self._chain = _chain(self.n_vocab, params)
        self._grammar = None
        self._top = np.zeros(self._k, dtype=_TOKEN_DATA)  # the candidates handed to the chain
        self._all: np.ndarray | None = None  # full-vocabulary candidates, grammar path only
        if grammar:
            self._grammar = _lc.llama_sampler_init_grammar(vocab, grammar.encode(), b"root")
            if not self._grammar:  # llama.cpp logs the parse error and returns NULL
                self.close()
                raise ModelError("invalid GBNF grammar (llama.cpp could not parse it; "
                                 "the start rule must be named 'root')")

    @property
    def top_k(self) -> int:
        return self._k

    @property
    def repeat_penalty(self) -> float:
        return self._penalty

    def sample_row(self, row: np.ndarray, candidates: np.ndarray | None = None,
                   to_ids: Callable[[np.ndarray], np.ndarray] | None = None) -> int:
        """The next token from a scores row (logits, or a trimmed head's rows); updates the
        penalty history and the grammar. An end-of-generation token is returned but never fed
        to the grammar: the caller stops there. ``candidates`` = the row's top_k_ids when
        already picked (top_k_rows); ``to_ids`` maps the row's columns to token ids when they
        differ (generation/head_cut.py)."""
        token = self._draw(row, candidates, to_ids)
        if self._grammar is not None and not self._allowed(token):
            token = self._draw(self._constrained(row, to_ids), None, to_ids)  # its own candidates
        if self._grammar is not None and not _lc.llama_vocab_is_eog(self._vocab, token):
            # Only now that the token is known to be allowed: llama.cpp aborts the process
            # when a grammar is fed a token it does not allow.
            _lc.llama_sampler_accept(self._grammar, token)
        _lc.llama_sampler_accept(self._chain, token)
        return token

    def _draw(self, row: np.ndarray, columns: np.ndarray | None = None,
              to_ids: Callable[[np.ndarray], np.ndarray] | None = None) -> int:
        if columns is None:
            columns = top_k_ids(row, self._k, self._penalty)
        top = self._top[:len(columns)]
        top["id"] = columns if to_ids is None else to_ids(columns)
        top["logit"] = row[columns]
        array = _lc.llama_token_data_array(
            data=top.ctypes.data_as(_lc.llama_token_data_p), size=len(columns), selected=-1,
            sorted=False)
        _lc.llama_sampler_apply(self._chain, ctypes.byref(array))
        if not 0 <= array.selected < array.size:
            raise ModelError("the sampler chain selected no token")
        return int(top["id"][array.selected])

    def _constrained(self, row: np.ndarray,
                     to_ids: Callable[[np.ndarray], np.ndarray] | None = None) -> np.ndarray:
        """A copy of ``row`` with every token the grammar forbids at -inf."""
        if to_ids is not None:  # a trimmed head's row: its own ids, made for this call
            cand = np.zeros(len(row), dtype=_TOKEN_DATA)
            cand["id"] = to_ids(np.arange(len(row)))
        else:
            if self._all is None:  # 262k x 12 bytes = 3 MB, made once per constrained sequence
                self._all = np.zeros(self.n_vocab, dtype=_TOKEN_DATA)
                self._all["id"] = np.arange(self.n_vocab, dtype=np.int32)
            cand = self._all
        cand["logit"] = row
        array = _lc.llama_token_data_array(
            data=cand.ctypes.data_as(_lc.llama_token_data_p), size=len(cand), selected=-1,
            sorted=False)
        _lc.llama_sampler_apply(self._grammar, ctypes.byref(array))
        logits = np.array(cand["logit"])
        if not np.isfinite(logits).any():
            raise ModelError("the grammar allows no next token")
        return logits

    def _allowed(self, token: int) -> bool:
        one = (_lc.llama_token_data * 1)(_lc.llama_token_data(token, 0.0, 0.0))
        array = _lc.llama_token_data_array(data=one, size=1, selected=-1, sorted=False)
        _lc.llama_sampler_apply(self._grammar, ctypes.byref(array))
        return not math.isinf(one[0].logit)

    def close(self) -> None:
        if self._chain:
            _lc.llama_sampler_free(self._chain)
            self._chain = None
        if self._grammar:
            _lc.llama_sampler_free(self._grammar)
            self._grammar = None


class TokenText:
    """Token id -> UTF-8 bytes, cached (a 160-token email repeats many pieces)."""

    def __init__(self, model: Any) -> None:
        self._vocab = _lc.llama_model_get_vocab(model)
        self._buf = ctypes.create_string_buffer(256)
        self._cache: dict[int, bytes] = {}

    def piece(self, token: int) -> bytes:
        cached = self._cache.get(token)
        if cached is not None:
            return cached
        # special=False: control tokens (<eos>, <end_of_turn>) render as nothing, as in Llama.
        n = _lc.llama_token_to_piece(self._vocab, token, self._buf, len(self._buf), 0, False)
        if n < 0:
            big = ctypes.create_string_buffer(-n)
            n = _lc.llama_token_to_piece(self._vocab, token, big, -n, 0, False)
            piece = big.raw[:n]
        else:
            piece = self._buf.raw[:n]
        self._cache[token] = piece
        return piece

    def tokenize(self, text: str, add_bos: bool = True) -> list[int]:
        """``text`` as tokens; special-token text in it stays plain text (untrusted lead data
        cannot smuggle in an end-of-turn or BOS token)."""
        data = text.encode()
        cap = len(data) + 2
        out = (_lc.llama_token * cap)()
        n = _lc.llama_tokenize(self._vocab, data, len(data), out, cap, add_bos, False)
        if n < 0:
            raise ModelError(f"cannot tokenize a prompt of {len(data)} bytes")
        return list(out[:n])

    def is_end(self, token: int) -> bool:
        return bool(_lc.llama_vocab_is_eog(self._vocab, token))


def find_stop(text: bytes | bytearray, stops: tuple[bytes, ...], start: int) -> int:
    """Offset of the earliest stop string that begins at or after ``start``, or -1."""
    best = -1
    for stop in stops:
        at = text.find(stop, start)
        if at >= 0 and (best < 0 or at < best):
            best = at
    return best
