"""Serve a vocabulary-trimmed GGUF as a *head* cut: full-vocabulary input, each prompt's own
tokens added back to the output.

Why: a trim (quantize/trim/vocab.py) keeps 55k of Gemma 3's 262k tokens and makes decode 1.5-1.9x
faster, because the output head scores 55k rows instead of 262k. Served as a plain model it also
re-tokenizes every prompt with the cut vocabulary: only 22% of held-out prompts came out
unchanged at 32k, a lead's name is spelled in pieces the miniature was never trained to copy,
and first-try pass fell from 64% to 50% ("Juul" signed "Jul"; 248 paired emails, README).

How, in llama.cpp terms:
- Input: the trimmed GGUF runs the network, but it is fed embedding rows (``llama_batch.embd``),
  not token ids. Rows come from the *source* GGUF's full ``token_embd.weight``, so every prompt is
  tokenized and embedded exactly as the untrimmed model sees it (tested: the hidden state is
  bit-identical to the source model's).
- Output: the trimmed head scores the kept tokens in llama.cpp. The tokens a request's prompt uses
  that the trim dropped (a name's pieces, with and without the leading space the tokenizer
  marks word starts with) are scored in numpy from the final hidden state (llama.cpp's
  embeddings output) against their source rows: a few dozen dot products per step. A request can
  write every kept token plus every token it may need to copy; all ids are the source's.
"""

from __future__ import annotations

import json
import math
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from outreach.errors import ModelError
from generation.model import sha256_of  # cached in a sidecar: no re-hash after the first start

# Architectures whose graph multiplies token-id embeddings by sqrt(n_embd) but takes
# ``llama_batch.embd`` as given (llama.cpp's gemma builders scale only when ``ubatch.token``).
_SCALED_INPUT = ("gemma", "gemma2", "gemma3")
_WORD = re.compile(r"\w+|[^\w\s]+")
_MAX_PART = 16  # characters of a word's beginning or end tried as a token sequence of its own
_WORD_CACHE = 50_000  # words whose dropped tokens are remembered (~12 ms a prompt uncached)


@dataclass(frozen=True)
class Extras:
    """The source tokens one prompt may copy that the trim dropped: ids and their head rows."""

    ids: np.ndarray  # int64, source ids
    rows: np.ndarray  # float32 [len(ids), n_embd]


def ids_of_ranges(ranges: str) -> np.ndarray:
    """"0-3,5,105-32493,..." (a trim manifest's ``recipe.kept_ranges``) -> sorted ids."""
    runs = [[int(x) for x in run.split("-")] for run in ranges.split(",") if run]
    return np.concatenate([np.arange(r[0], r[-1] + 1, dtype=np.int64) for r in runs]) \
        if runs else np.empty(0, dtype=np.int64)


def read_trim_manifest(trimmed: Path) -> tuple[np.ndarray, str]:
    """(the source ids a trim kept, trimmed id = position; the source's sha256), from the
    manifest beside it."""
    manifest = trimmed.with_name(trimmed.name + ".manifest.json")
    try:
        recorded = json.loads(manifest.read_text())
        return (ids_of_ranges(recorded["recipe"]["kept_ranges"]),
                str(recorded["inputs"]["source"]["sha256"]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"{manifest} does not record the trim's kept ids (recipe.kept_ranges) "
                         "and source: write the trim again with `outreach quantize trim --vocab "
                         "N` or `--like <manifest>`") from exc


# GGUF metadata value types (gguf.GGUFValueType) -> bytes of one value; 8 = string, 9 = array.
_VALUE_BYTES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}


def read_table(path: Path, name: str = "token_embd.weight") -> tuple[np.ndarray, Any, str]:
    """(rows of tensor ``name`` as a read-only memory map of its raw blocks [n_rows, row_bytes],
    its ggml type, the model's architecture).

    A small header walk instead of ``gguf.GGUFReader``: the reader turns all 262,144 token
    strings into numpy views first, 7-15 s on 2 cores, at every engine start; skipping them
    takes ~0.2 s."""
    import gguf

    data = np.memmap(path, dtype=np.uint8, mode="r")
    at = 0

    def take(fmt: str) -> Any:
        nonlocal at
        value = struct.unpack_from("<" + fmt, data, at)
        at += struct.calcsize(fmt)
        return value[0]

    def string() -> bytes:
        nonlocal at
        size = take("Q")
        at += size
        return bytes(data[at - size:at])

    def skip(kind: int) -> None:
        nonlocal at
        if kind == 8:
            size = take("Q")
            at += size
        elif kind == 9:
            item, count = take("I"), take("Q")
            if item in _VALUE_BYTES:
                at += _VALUE_BYTES[item] * count
            else:
                for _ in range(count):
                    skip(item)
        else:
            at += _VALUE_BYTES[kind]

    if bytes(data[:4]) != b"GGUF" or struct.unpack_from("<I", data, 4)[0] < 2:
        raise ModelError(f"{path} is not a GGUF v2+ file")
    at = 8
    n_tensors, n_kv = take("Q"), take("Q")
    arch, alignment = "", 32
    for _ in range(n_kv):
        key, kind = string(), take("I")
        if key == b"general.architecture" and kind == 8:
            arch = string().decode()
        elif key == b"general.alignment" and kind == 4:
            alignment = take("I")
        else:
            skip(kind)
    found = None
    for _ in range(n_tensors):
        tensor = string().decode()
        dims = [take("Q") for _ in range(take("I"))]
        kind, offset = take("I"), take("Q")
        if tensor == name:
            found = (dims, gguf.GGMLQuantizationType(kind), offset)
    if found is None:
        raise ModelError(f"{path} has no tensor {name}")
    dims, qtype, offset = found
    start = at + (-at % alignment) + offset
    block, block_bytes = gguf.GGML_QUANT_SIZES[qtype]
    row_bytes = dims[0] // block * block_bytes
    rows = data[start:start + row_bytes * dims[1]].reshape(dims[1], row_bytes)
    return rows, qtype, arch


class TrimmedHead:
    """The source model's embedding table and the trim's kept ids, for one LlamaContext."""

    def __init__(self, source: Path, trimmed: Path, n_kept: int) -> None:
        try:
            import gguf
        except ImportError as exc:
            raise ModelError("serving a trimmed head needs the gguf package") from exc
        try:
            self._table, self._qtype, arch = read_table(source)
        except (OSError, ValueError, KeyError, struct.error) as exc:
            raise ModelError(f"cannot read the embedding table of {source}: {exc}") from exc
        self._gguf = gguf
        self.n_vocab = len(self._table)
        block, block_bytes = gguf.GGML_QUANT_SIZES[self._qtype]
        self.n_embd = self._table.shape[1] // block_bytes * block
        self.keep, source_sha = read_trim_manifest(Path(trimmed))
        if sha256_of(Path(source)) != source_sha:
            raise ModelError(f"{trimmed} is a trim of another model than {source} (source "
                             f"sha256 {source_sha[:16]}...): trim the configured model")
        if len(self.keep) != n_kept or (len(self.keep) and self.keep[-1] >= self.n_vocab):
            raise ModelError(f"{trimmed} is not a trim of {source}: {n_kept} tokens, "
                             f"{len(self.keep)} kept ids")
        self._dropped = np.ones(self.n_vocab, dtype=bool)
        self._dropped[self.keep] = False
        self._word_ids: dict[str, frozenset[int]] = {}
        self.input_scale = math.sqrt(self.n_embd) if arch in _SCALED_INPUT else 1.0

    def rows(self, ids: np.ndarray) -> np.ndarray:
        """Source head/embedding rows of ``ids`` as float32 [len(ids), n_embd]."""
        return self._gguf.quants.dequantize(self._table[ids], self._qtype).astype(
            np.float32, copy=False).reshape(len(ids), self.n_embd)

    def embed(self, ids: np.ndarray, out: np.ndarray) -> None:
        """Input rows of ``ids`` into ``out`` [len(ids), n_embd], scaled as llama.cpp scales
        token-id input for this architecture."""
        np.multiply(self.rows(ids), self.input_scale, out=out)

    def extras(self, prompt: list[int], text: str, tokenize: Any) -> Extras:
        """The dropped tokens a request with ``prompt`` (its ids, and ``text``) may copy: the
        prompt's own, plus each word's tokens at a line start and after a space (SentencePiece
        marks a word start with the space: " Juul" and "Juul" are two tokens), and for words
        beyond ASCII (names, mostly) the tokens of their beginnings and ends too: an email may
        write part of a name ("田中様" from "田中太郎", "Nowak" from "Nowak-Buśko")."""
        ids = set(prompt)
        for word in set(_WORD.findall(text)):
            cached = self._word_ids.get(word)
            if cached is None:
                parts, found = [word], set()
                if not word.isascii():
                    n = min(len(word), _MAX_PART)
                    parts += [word[:i] for i in range(1, n)] + [word[-i:] for i in range(1, n)]
                for part in parts:
                    found.update(tokenize(part))
                    found.update(tokenize(" " + part))
                if len(self._word_ids) >= _WORD_CACHE:  # a campaign block's words repeat for
                    self._word_ids.clear()              # every lead; names rarely do
                cached = self._word_ids[word] = frozenset(
                    i for i in found if 0 <= i < self.n_vocab and self._dropped[i])
            ids.update(cached)
        dropped = np.array(sorted(i for i in ids if 0 <= i < self.n_vocab and self._dropped[i]),
                           dtype=np.int64)
        return Extras(dropped, self.rows(dropped) if len(dropped) else
                      np.zeros((0, self.n_embd), dtype=np.float32))

    def scores(self, logits: np.ndarray, hidden: np.ndarray,
               extras: list[Extras | None]) -> np.ndarray:
        """Row i: the kept tokens' logits, then request i's extra tokens' (padded with -inf to
        the widest). ``source_ids`` maps its columns to source ids."""
        n, width = len(extras), max((len(e.ids) for e in extras if e is not None), default=0)
        n_kept = len(self.keep)
        rows = np.empty((n, n_kept + width), dtype=np.float32)
        rows[:, :n_kept] = logits[:n]
        rows[:, n_kept:] = -np.inf
        for i, extra in enumerate(extras):
            if extra is not None and len(extra.ids):
                rows[i, n_kept:n_kept + len(extra.ids)] = extra.rows @ hidden[i]
        return rows

    def source_ids(self, columns: np.ndarray, extra: Extras | None) -> np.ndarray:
        """Source ids of ``columns`` of a ``scores`` row (a padding column maps to id 0; its
        logit is -inf, so it is never drawn)."""
        columns = np.asarray(columns, dtype=np.int64)
        n_kept = len(self.keep)
        out = self.keep[np.minimum(columns, n_kept - 1)]
        beyond = columns >= n_kept
        if beyond.any():
            extra_ids = extra.ids if extra is not None else np.zeros(0, dtype=np.int64)
            at = columns[beyond] - n_kept
            out[beyond] = np.where(at < len(extra_ids),
                                   extra_ids[np.minimum(at, max(0, len(extra_ids) - 1))]
                                   if len(extra_ids) else 0, 0)
        return out
