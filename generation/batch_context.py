"""A llama.cpp model + multi-sequence context + batch on the low-level bindings, owned by one thread.

Kept apart from the scheduling in generation/batch.py so that the benchmark can time bare decodes
(the compute ceiling) on exactly the context the engine uses.
"""

from __future__ import annotations

import ctypes
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from outreach.errors import ModelError
from outreach.settings import ModelSettings
from generation.sampling import TokenText, logits_row, logits_rows
from generation.head_cut import Extras, TrimmedHead

log = logging.getLogger(__name__)

try:
    import llama_cpp as _lc
except ImportError:  # the streaming path installs no llama.cpp
    _lc = None  # type: ignore[assignment]


def physical_cores() -> int:
    """Physical cores this process may run on.

    Decoding is bound by memory bandwidth and SIMD units; a hyper-thread sibling shares both, so
    llama.cpp runs best with one thread per physical core.
    """
    try:
        cpus = os.sched_getaffinity(0)
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)
    cores = set()
    for cpu in cpus:
        topo = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology")
        try:
            cores.add((topo.joinpath("physical_package_id").read_text().strip(),
                       topo.joinpath("core_id").read_text().strip()))
        except OSError:
            return max(1, len(cpus))
    return max(1, len(cores))


class LlamaContext:
    """Model, context (``n_seq`` sequences x ``ctx_per_seq`` cells, one KV stream each) and a
    reusable batch of ``n_batch`` tokens. Not thread-safe: one thread drives it.

    ``trimmed_path``: a vocabulary trim of ``model_path`` to run in its place as a head cut
    (generation/head_cut.py): token ids, text and sampling stay ``model_path``'s; the batch
    carries embedding rows; outputs are read with ``output_rows``."""

    def __init__(self, model_path: Path | str, cfg: ModelSettings, *, n_seq: int,
                 ctx_per_seq: int, n_batch: int, lora_path: Path | str | None = None,
                 n_threads: int | None = None, outputs_per_seq: int = 1,
                 batch_invariant: bool = True, verbose: bool = False,
                 trimmed_path: Path | str | None = None) -> None:
        if _lc is None:
            raise ModelError("llama-cpp-python is not installed: "
                             "pip install 'miniature-outreach[worker]'")
        if not verbose:  # llama.cpp logs every tensor at load; keep errors only (as Llama does)
            logging.getLogger("llama-cpp-python").setLevel(logging.ERROR)
        _lc.llama_backend_init()
        self.model: Any = None
        self.ctx: Any = None
        self._adapter: Any = None
        self._batch: Any = None
        self._vocab_model: Any = None
        self.head: TrimmedHead | None = None
        mparams = _lc.llama_model_default_params()
        mparams.n_gpu_layers = cfg.n_gpu_layers
        if batch_invariant and not _lc.llama_supports_gpu_offload():
            # The CPU "repack" kernels (q4_K_8x8) round differently for 4-7 rows than for 2-3 or
            # 8+, so a sequence's logits changed with the number of sequences beside it (by up
            # to 0.86, enough to flip greedy picks; measured). Without them every batch of 2+
            # rows gives bit-identical rows. They repack only attn_output/ffn_down here.
            # Not on GPU builds: a CUDA build (H100) segfaulted loading the model without its
            # extra buffer types, and CUDA's kernels are not batch-invariant anyway (greedy
            # batched = alone for 2 of 8 sequences there, measured).
            mparams.use_extra_bufts = False
        started = time.perf_counter()
        network = trimmed_path or model_path
        self.model = _lc.llama_model_load_from_file(str(network).encode(), mparams)
        if not self.model:
            raise ModelError(f"cannot load model {network}")
        try:
            self.n_out = int(_lc.llama_vocab_n_tokens(_lc.llama_model_get_vocab(self.model)))
            if trimmed_path is not None:
                self._load_head(Path(model_path), Path(trimmed_path))
            self._init_context(cfg, n_seq, ctx_per_seq, n_batch, lora_path, n_threads,
                               outputs_per_seq, batch_invariant)
        except BaseException:
            self.close()
            raise
        # Token ids, text and the sampler's vocabulary: the source's in a head cut.
        self.text_model = self._vocab_model or self.model
        self.text = TokenText(self.text_model)
        self.n_vocab = int(_lc.llama_vocab_n_tokens(_lc.llama_model_get_vocab(self.text_model)))
        self.model_bytes = int(_lc.llama_model_size(self.model))
        log.info("loaded %s in %.1f s: %d sequences x %d tokens, batch %d, %d threads, "
                 "gpu_layers=%d", Path(model_path).name + (
                     f" (head cut {Path(trimmed_path).name})" if trimmed_path else ""),
                 time.perf_counter() - started, n_seq,
                 self.ctx_per_seq, self.n_batch, self.n_threads, cfg.n_gpu_layers)

    def _load_head(self, source: Path, trimmed: Path) -> None:
        params = _lc.llama_model_default_params()
        params.vocab_only = True
        self._vocab_model = _lc.llama_model_load_from_file(str(source).encode(), params)
        if not self._vocab_model:
            raise ModelError(f"cannot load the vocabulary of {source}")
        self.head = TrimmedHead(source, trimmed, self.n_out)

    def _init_context(self, cfg: ModelSettings, n_seq: int, ctx_per_seq: int, n_batch: int,
                      lora_path: Path | str | None, n_threads: int | None,
                      outputs_per_seq: int, batch_invariant: bool) -> None:
        params = _lc.llama_context_default_params()
        params.n_seq_max = n_seq
        params.n_ctx = n_seq * ctx_per_seq
        params.n_batch = params.n_ubatch = n_batch  # one step = one ubatch = one pass
        # The logits buffer is n_outputs x 262k floats (1 MB per output): size it for one output
        # per sequence per step, not for n_batch outputs (512 MB).
        params.n_outputs_max = min(n_batch, n_seq * outputs_per_seq)
        params.n_outputs_max_per_seq = outputs_per_seq
        params.kv_unified = False  # one stream per sequence: attention never spans other seqs
        # Flash attention on explicitly: without it the CPU KQ product switches kernels at 8
        # rows, and with it a single-row batch is the only one that rounds differently.
        params.flash_attn_type = _lc.LLAMA_FLASH_ATTN_TYPE_ENABLED if batch_invariant else \
            _lc.LLAMA_FLASH_ATTN_TYPE_AUTO
        self.n_threads = n_threads or cfg.n_threads or physical_cores()
        params.n_threads = params.n_threads_batch = self.n_threads
        params.no_perf = True
        # A head cut reads the final hidden state beside the logits (llama.cpp's embeddings
        # output, pooling none); decode() turns it off for batches without outputs.
        params.embeddings = self.head is not None
        self.ctx = _lc.llama_init_from_model(self.model, params)
        if not self.ctx:
            raise ModelError(f"cannot create a context of {n_seq} x {ctx_per_seq} tokens")
        self.mem = _lc.llama_get_memory(self.ctx)
        self.ctx_per_seq = int(_lc.llama_n_ctx_seq(self.ctx))
        self.n_batch = int(_lc.llama_n_batch(self.ctx))
        if lora_path is not None:
            self._adapter = _lc.llama_adapter_lora_init(self.model, str(lora_path).encode())
            if not self._adapter:
                raise ModelError(f"cannot load LoRA adapter {lora_path}")
            adapters = (_lc.llama_adapter_lora_p_ctypes * 1)(self._adapter)
            if _lc.llama_set_adapters_lora(self.ctx, adapters, 1, (ctypes.c_float * 1)(1.0)):
                raise ModelError(f"cannot apply LoRA adapter {lora_path}")
        n_embd = self.head.n_embd if self.head is not None else 0
        self._batch = _lc.llama_batch_init(self.n_batch, n_embd, 1)
        self.batch = self._batch
        # Raw pointers, looked up once: each attribute access on a ctypes struct costs ~100 ns.
        self._pos = self._batch.pos
        self._n_seq_id, self._seq_id = self._batch.n_seq_id, self._batch.seq_id
        self._logits = self._batch.logits
        if self.head is None:
            self._token = self._batch.token
        else:  # token ids are kept here and turned into embedding rows in decode()
            self._token = np.zeros(self.n_batch, dtype=np.int64)
            self._embd = np.ctypeslib.as_array(self._batch.embd, shape=(self.n_batch, n_embd))
            self._wants = np.ctypeslib.as_array(
                ctypes.cast(self._batch.logits, ctypes.POINTER(ctypes.c_int8)),
                shape=(self.n_batch,))

    def put(self, i: int, token: int, pos: int, seq_id: int, logits: bool) -> None:
        """Set batch entry ``i``; the caller sets ``batch.n_tokens`` before ``decode``."""
        self._token[i] = token
        self._pos[i] = pos
        self._n_seq_id[i] = 1
        self._seq_id[i][0] = seq_id
        self._logits[i] = logits

    def decode(self) -> tuple[int, float]:
        """One llama_decode of the current batch: (status, seconds)."""
        started = time.perf_counter()
        if self.head is not None:
            n = self._batch.n_tokens
            self.head.embed(self._token[:n], self._embd[:n])
            # With embeddings on llama.cpp makes every token an output (the head over 55k rows
            # for each prompt token), so a prefill chunk without outputs runs with them off.
            outputs = bool(self._wants[:n].any())
            if outputs:  # all of them, as llama.cpp would (it warns when it has to)
                self._wants[:n] = 1
            _lc.llama_set_embeddings(self.ctx, outputs)
        rc = _lc.llama_decode(self.ctx, self._batch)
        return int(rc), time.perf_counter() - started

    def extras(self, prompt: list[int], text: str) -> Extras | None:
        """In a head cut, the dropped tokens a request with this prompt may copy; else None."""
        if self.head is None:
            return None
        return self.head.extras(prompt, text, lambda s: self.text.tokenize(s, add_bos=False))

    def output_rows(self, n: int, extras: list[Extras | None] | None = None) -> np.ndarray:
        """Scores of the first ``n`` outputs of the last decode, [n, columns]: the logits
        (a zero-copy view, valid until the next decode), or in a head cut the kept tokens'
        and each request's extras (``extras``, one per output; map columns with ``to_ids``)."""
        if self.head is None:
            return logits_rows(self.ctx, n, self.n_vocab)
        hidden = _lc.llama_get_embeddings(self.ctx)
        if not hidden:
            raise ModelError("the last decode kept no hidden states")
        return self.head.scores(logits_rows(self.ctx, n, self.n_out),
                                np.ctypeslib.as_array(hidden, shape=(n, self.head.n_embd)),
                                extras if extras is not None else [None] * n)

    def to_ids(self, extra: Extras | None) -> Callable[[np.ndarray], np.ndarray] | None:
        """Columns of an ``output_rows`` row -> token ids; None when they are the same."""
        if self.head is None:
            return None
        head = self.head
        return lambda columns: head.source_ids(columns, extra)

    def greedy(self, index: int) -> int:
        """The most likely next token at batch index ``index`` (its logits must be kept)."""
        if self.head is None:
            return int(np.argmax(logits_row(self.ctx, index, self.n_vocab)))
        row = self.output_rows(index + 1)[index]
        return int(self.head.source_ids(np.array([np.argmax(row)]), None)[0])

    def clear(self, seq_id: int) -> None:
        """Drop a sequence from the KV cache (removing a whole sequence never fails)."""
        _lc.llama_memory_seq_rm(self.mem, seq_id, -1, -1)

    def copy(self, src: int, dst: int, keep: int) -> bool:
        """Give ``dst`` the first ``keep`` cached tokens of ``src``; False leaves ``dst`` empty."""
        self.clear(dst)
        # Across KV streams llama.cpp copies whole streams only, so copy all, then trim.
        _lc.llama_memory_seq_cp(self.mem, src, dst, -1, -1)
        if _lc.llama_memory_seq_pos_max(self.mem, dst) + 1 > keep and not \
                _lc.llama_memory_seq_rm(self.mem, dst, keep, -1):
            self.clear(dst)
            return False
        return True

    def close(self) -> None:
        if self._batch is not None:
            _lc.llama_batch_free(self._batch)
            self._batch = None
        if self.ctx:
            _lc.llama_free(self.ctx)
            self.ctx = None
        if self._adapter:
            _lc.llama_adapter_lora_free(self._adapter)
            self._adapter = None
        if self.model:
            _lc.llama_model_free(self.model)
            self.model = None
        if self._vocab_model:
            _lc.llama_model_free(self._vocab_model)
            self._vocab_model = None


def decode_tokens(llm: LlamaContext, tokens: list[int], seq_id: int, start: int,
                  want_last: bool) -> float:
    """Decode ``tokens`` (at most n_batch) of one sequence from position ``start``; returns the
    seconds spent. Logits only for the last token, and only when ``want_last``."""
    for j, token in enumerate(tokens):
        llm.put(j, token, start + j, seq_id, want_last and j == len(tokens) - 1)
    llm.batch.n_tokens = len(tokens)
    rc, seconds = llm.decode()
    if rc != 0:
        raise ModelError(f"llama_decode failed with status {rc} on {len(tokens)} tokens")
    return seconds


# A shared prefix is copied only when at least this many of its tokens match: below that the
# stream copy costs about what prefilling those tokens does (~1.9 ms/token on 2 cores).
MIN_PREFIX_REUSE = 8


@dataclass
class _Prefix:
    seq_id: int
    text: str  # the registered text; "" for a prefix kept from a request (keep)
    tokens: list[int]
    last_used: float


class PrefixStore:
    """Shared prompt prefixes, each held in a reserved sequence and copied into the slot of
    every request that starts with it (a whole-stream KV copy: ~19 MB for 1024 cells, against
    ~0.7 s to prefill a 361-token prefix on 2 cores).

    Two pools, each its own LRU: ``count`` registered prefixes (``register``: a campaign
    block, decoded here) and ``shared`` prefixes kept from requests (``keep``: a campaign block
    plus one lead's retrieved evidence, copied out of the request's slot after its prefill).
    Apart, so that many evidence lines never push out the campaign blocks they extend."""

    def __init__(self, llm: LlamaContext, first_seq: int, count: int, shared: int = 0) -> None:
        self._llm = llm
        self._seq_ids = range(first_seq, first_seq + count)
        self._shared_ids = range(first_seq + count, first_seq + count + shared)
        self._prefixes: dict[int, _Prefix] = {}
        self.decodes = 0  # prefixes decoded (a registered text already held costs nothing)
        self.decoded_tokens = 0
        self.kept = 0  # prefixes kept from requests (a token prefix already held is not kept)
        self.reused_tokens = 0  # prompt tokens copied from a prefix instead of prefilled

    def _free_or_oldest(self, pool: range) -> int:
        free = [s for s in pool if s not in self._prefixes]
        return free[0] if free else min(pool, key=lambda s: self._prefixes[s].last_used)

    def register(self, text: str) -> int:
        """Decode ``text`` into a free (or the least recently used) prefix sequence; its id."""
        for prefix in self._prefixes.values():
            if prefix.text == text and prefix.seq_id in self._seq_ids:
                prefix.last_used = time.perf_counter()
                return prefix.seq_id
        if not self._seq_ids:
            raise ModelError("this engine has no prefix slots (prefix_slots=0)")
        tokens = self._llm.text.tokenize(text)
        if len(tokens) >= self._llm.ctx_per_seq:
            raise ModelError(f"prefix of {len(tokens)} tokens does not fit a slot of "
                             f"{self._llm.ctx_per_seq}")
        seq_id = self._free_or_oldest(self._seq_ids)
        self._prefixes.pop(seq_id, None)
        self._llm.clear(seq_id)
        started = time.perf_counter()
        for at in range(0, len(tokens), self._llm.n_batch):
            decode_tokens(self._llm, tokens[at:at + self._llm.n_batch], seq_id, at, False)
        self._prefixes[seq_id] = _Prefix(seq_id, text, tokens, time.perf_counter())
        self.decodes += 1
        self.decoded_tokens += len(tokens)
        log.info("shared prefix %d: %d tokens in %.2f s", seq_id, len(tokens),
                 time.perf_counter() - started)
        return seq_id

    def keep(self, tokens: list[int], src_seq: int) -> bool:
        """Hold the first ``len(tokens)`` cached tokens of ``src_seq`` (a request's slot, just
        prefilled that far; ``tokens`` are its prompt's) in a free or the least recently used
        shared slot, for later prompts that start with them. False when nothing was kept:
        no shared slots, too short to pay for a copy, or already held."""
        if not self._shared_ids or len(tokens) < MIN_PREFIX_REUSE:
            return False
        now = time.perf_counter()
        for prefix in self._prefixes.values():
            if prefix.seq_id in self._shared_ids and prefix.tokens == tokens:
                prefix.last_used = now
                return False
        seq_id = self._free_or_oldest(self._shared_ids)
        self._prefixes.pop(seq_id, None)
        if not self._llm.copy(src_seq, seq_id, keep=len(tokens)):
            return False
        self._prefixes[seq_id] = _Prefix(seq_id, "", list(tokens), now)
        self.kept += 1
        return True

    def reuse(self, prompt: list[int], seq_id: int, split: int = 0) -> int:
        """Copy the longest matching prefix into ``seq_id``; the prompt tokens it covers.

        Matching is on tokens, so a prompt that merely starts with the prefix text but
        tokenizes differently at the seam reuses only the tokens that agree. At least one
        prompt token is always left to decode: its logits give the first sample. ``split``
        (the end of the part the caller prefills and keeps first) is never left one token
        away: a one-token prefill chunk takes llama.cpp's one-row attention path, which rounds
        differently, so the kept KV would depend on what was cached before.
        """
        best, best_len = None, 0
        for prefix in self._prefixes.values():
            n = common_prefix(prompt, prefix.tokens)
            if n > best_len:
                best, best_len = prefix, n
        best_len = min(best_len, len(prompt) - 1)
        if split - best_len == 1:
            best_len -= 1
        if best is None or best_len < MIN_PREFIX_REUSE:
            return 0
        if not self._llm.copy(best.seq_id, seq_id, keep=best_len):
            return 0
        if best_len == len(best.tokens):  # a part of another lead's evidence is no use of it
            best.last_used = time.perf_counter()
        self.reused_tokens += best_len
        return best_len


def common_prefix(tokens: list[int], prefix: list[int]) -> int:
    if tokens[:len(prefix)] == prefix:  # the usual case, compared in C
        return len(prefix)
    n = 0
    for a, b in zip(tokens, prefix):
        if a != b:
            break
        n += 1
    return n
