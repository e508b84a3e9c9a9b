"""Vocabulary trim: a GGUF whose vocabulary (and output head) holds only what outreach needs.

Why: Gemma 3 ties its output head to ``token_embd.weight`` (Q8_0, 640 x 262,144: 178 MB of the
247 MB file); scoring 262,144 tokens is 168M multiply-adds per generated token against ~100M for
all transformer blocks, and an English sales email uses a few thousand of them.

What is kept, in the original id order (SentencePiece scores are merge ranks, so order matters):
- every UNKNOWN, BYTE (byte fallback: any text still encodes) and USER_DEFINED token (newline
  and space runs: llama.cpp matches them before the merges, dropping one re-tokenizes text);
- the special ids (BOS, EOS, PAD, UNK, EOT...), the chat turn markers and every control token
  whose text the stop strings or the corpus contain;
- every single-character piece (Gemma's 19,225-character alphabet, ids 236,743-255,967: cut it
  and ':' becomes byte tokens the model never saw);
- the ``n_merges`` best-scored multi-character pieces;
- every token the domain corpus uses, plus the pieces it is merged from (``merge_closure``).
Then ``token_embd.weight`` (and ``output.weight`` when untied) is cut to those rows and every
tokenizer array and special-token id is remapped. Rows of a quantized matrix are whole blocks
(Q8_0: 32 values per 34-byte block along the 640-wide row), so cutting the raw bytes by row is
exact; ``trim_gguf`` refuses a layout where a block would straddle rows.

Tokenization is unchanged for any text whose full-vocabulary tokens (and their merge pieces)
are all kept: SentencePiece merges the best-scored adjacent pair first, and every merge the full
vocabulary makes is still available and still the best among the kept ones.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from outreach.errors import QuantizeError
from generation.head_cut import ids_of_ranges  # noqa: F401  (the inverse of id_ranges)

log = logging.getLogger(__name__)

TOKENS, SCORES, TYPES = "tokenizer.ggml.tokens", "tokenizer.ggml.scores", "tokenizer.ggml.token_type"
# Output-head / embedding tensors with one row per token.
VOCAB_TENSORS = ("token_embd.weight", "output.weight")
# llama.cpp token types (llama_token_type / gguf TokenType).
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6
# Chat turn markers and end-of-text pieces (llama.cpp finds end-of-generation tokens by their
# text, e.g. Gemma's '</s>' at id 212): kept whether or not today's prompt uses them.
CHAT_MARKERS = ("<start_of_turn>", "<end_of_turn>", "</s>", "<|im_start|>", "<|im_end|>",
                "<|eot_id|>", "<|endoftext|>")


@dataclass(frozen=True)
class Vocab:
    tokens: list[str]
    scores: np.ndarray
    types: np.ndarray
    special_ids: dict[str, int]  # metadata key (tokenizer.ggml.*_token_id) -> id

    def __len__(self) -> int:
        return len(self.tokens)


def _array(field: Any) -> np.ndarray:
    # One part per element; concatenating the parts is ~50x faster than field.contents().
    return np.concatenate([field.parts[i] for i in field.data])


def read_vocab(reader: Any) -> Vocab:
    """The SentencePiece vocabulary of an open ``gguf.GGUFReader``."""
    fields = reader.fields
    model = fields.get("tokenizer.ggml.model")
    if model is None or model.contents() != "llama":
        raise QuantizeError("vocabulary trim needs a SentencePiece (tokenizer.ggml.model = "
                            f"llama) GGUF, got {model.contents() if model else None!r}")
    tokens_field = fields[TOKENS]
    tokens = [bytes(tokens_field.parts[i]).decode("utf-8") for i in tokens_field.data]
    n = len(tokens)
    scores = _array(fields[SCORES]) if SCORES in fields else np.zeros(n, np.float32)
    types = _array(fields[TYPES]) if TYPES in fields else np.full(n, NORMAL, np.int32)
    special = {name: int(field.contents()) for name, field in fields.items()
               if name.startswith("tokenizer.ggml.") and name.endswith("_token_id")}
    return Vocab(tokens, scores, types, special)


def merge_pieces(text: str, lookup: dict[str, int], scores: np.ndarray) -> list[int]:
    """The tokens llama.cpp's SentencePiece tokenizer forms while merging ``text`` alone, the
    final ones included: best score first, leftmost on a tie (llm_tokenizer_spm)."""
    chars = list(text)
    if len(chars) < 2:
        return []
    sym = [[c, i - 1, i + 1] for i, c in enumerate(chars)]  # text, prev, next
    sym[-1][2] = -1
    queue: list[tuple[float, int, int, str]] = []

    def push(left: int, right: int) -> None:
        if left < 0 or right < 0:
            return
        merged = sym[left][0] + sym[right][0]
        token = lookup.get(merged)
        if token is not None:
            heapq.heappush(queue, (-float(scores[token]), left, right, merged))

    for i in range(1, len(sym)):
        push(i - 1, i)
    formed: list[int] = []
    while queue:
        _, left, right, merged = heapq.heappop(queue)
        if not sym[left][0] or not sym[right][0] or sym[left][0] + sym[right][0] != merged:
            continue  # outdated: one side was merged into something else meanwhile
        sym[left][0], sym[right][0] = merged, ""
        sym[left][2] = sym[right][2]
        if sym[right][2] >= 0:
            sym[sym[right][2]][1] = left
        formed.append(lookup[merged])
        push(sym[left][1], left)
        push(left, sym[left][2])
    return formed


def merge_closure(vocab: Vocab, ids: Iterable[int]) -> set[int]:
    """``ids`` plus every piece the tokenizer merges them from."""
    lookup = {text: i for i, text in enumerate(vocab.tokens) if vocab.types[i] == NORMAL}
    closed = set(ids)
    for token in list(closed):
        if vocab.types[token] == NORMAL:
            closed.update(merge_pieces(vocab.tokens[token], lookup, vocab.scores))
    return closed


def keep_ids(vocab: Vocab, n_merges: int, corpus_ids: Iterable[int] = (),
             required_texts: Iterable[str] = ()) -> np.ndarray:
    """Sorted ids of the tokens a trim keeps (see the module docstring)."""
    types = vocab.types
    keep = set(np.flatnonzero(np.isin(types, (UNKNOWN, BYTE, USER_DEFINED))).tolist())
    keep.update(i for i in vocab.special_ids.values() if 0 <= i < len(vocab))
    texts = set(CHAT_MARKERS) | set(required_texts)
    keep.update(i for i, token in enumerate(vocab.tokens) if token in CHAT_MARKERS)
    control = np.flatnonzero(types == CONTROL)
    keep.update(int(i) for i in control if any(vocab.tokens[i] in t for t in texts))
    normal = np.flatnonzero(types == NORMAL)
    lengths = np.fromiter((len(vocab.tokens[i]) for i in normal), np.int64, len(normal))
    keep.update(normal[lengths == 1].tolist())
    merges = normal[lengths > 1]
    best = merges[np.argsort(-vocab.scores[merges], kind="stable")[:max(0, n_merges)]]
    keep.update(best.tolist())
    keep.update(merge_closure(vocab, (int(i) for i in corpus_ids)))
    return np.array(sorted(keep), dtype=np.int64)


def _rows(tensor: Any, n_vocab: int) -> np.ndarray:
    """The tensor's data as one numpy row per token, checking that rows are whole blocks."""
    import gguf

    data = tensor.data
    if data.shape[0] != n_vocab:
        raise QuantizeError(f"{tensor.name}: {data.shape[0]} rows, vocabulary has {n_vocab}")
    block, _ = gguf.GGML_QUANT_SIZES[tensor.tensor_type]
    if int(tensor.shape[0]) % block:
        raise QuantizeError(f"{tensor.name}: rows of {tensor.shape[0]} values do not hold whole "
                            f"{tensor.tensor_type.name} blocks of {block}")
    return data


def copy_gguf(reader: Any, dst: Path, field_value: Callable[[str, Any], Any],
          tensor_data: Callable[[Any], np.ndarray],
          tensor_type: Callable[[Any], Any] | None = None) -> None:
    """Copy a GGUF, letting ``field_value`` replace metadata, ``tensor_data`` tensors and
    ``tensor_type`` their types (asked after every tensor's data)."""
    import gguf

    arch = reader.fields["general.architecture"].contents()
    writer = gguf.GGUFWriter(dst, arch=arch, endianess=reader.endianess)
    if "general.alignment" in reader.fields:
        writer.data_alignment = int(reader.fields["general.alignment"].contents())
    for field in reader.fields.values():
        if field.name == "general.architecture" or field.name.startswith("GGUF."):
            continue  # written by GGUFWriter itself
        vtype = field.types[0]
        sub_type = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field_value(field.name, field), vtype, sub_type=sub_type)
    datas = [tensor_data(t) for t in reader.tensors]
    for tensor, data in zip(reader.tensors, datas):
        writer.add_tensor_info(tensor.name, data.shape, data.dtype, data.nbytes,
                               tensor_type(tensor) if tensor_type else tensor.tensor_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for data in datas:
        writer.write_tensor_data(data, tensor_endianess=reader.endianess)
    writer.close()


def trim_gguf(reader: Any, vocab: Vocab, keep: np.ndarray, dst: Path) -> dict[str, Any]:
    """Write ``dst``: ``reader``'s model with only the ``keep`` ids, remapped to 0..len-1."""
    new_id = {int(old): new for new, old in enumerate(keep)}
    for key, old in vocab.special_ids.items():
        if old not in new_id and 0 <= old < len(vocab):
            raise QuantizeError(f"{key} = {old} is not kept")
    sliced = {TOKENS: [vocab.tokens[i] for i in keep], SCORES: vocab.scores[keep].tolist(),
              TYPES: vocab.types[keep].tolist()}

    def field_value(name: str, field: Any) -> Any:
        if name in sliced:
            return sliced[name]
        if name in vocab.special_ids:
            return new_id.get(vocab.special_ids[name], vocab.special_ids[name])
        if name.startswith("tokenizer.ggml.") and len(field.data) == len(vocab) > 1:
            raise QuantizeError(f"{name} is a per-token array the trim does not know")
        return field.contents()

    def tensor_data(tensor: Any) -> np.ndarray:
        if tensor.name in VOCAB_TENSORS:
            return np.ascontiguousarray(_rows(tensor, len(vocab))[keep])
        return tensor.data

    if not any(t.name in VOCAB_TENSORS for t in reader.tensors):
        raise QuantizeError("no token_embd.weight/output.weight tensor to trim")
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.name + ".tmp")
    try:
        copy_gguf(reader, tmp, field_value, tensor_data)
        tmp.replace(dst)  # a reader never sees half a model
    except OSError as exc:
        raise QuantizeError(f"cannot write {dst}: {exc}") from exc
    return {"n_vocab": len(vocab), "kept": len(keep)}


def adapter_vocab_tensors(adapter: Path, n_vocab: int) -> list[str]:
    """Tensors of a LoRA adapter GGUF with one row per token (they would need the same cut);
    a LoRA on the attention and MLP layers only has none and loads on the trimmed model."""
    import gguf

    reader = gguf.GGUFReader(adapter)
    return [t.name for t in reader.tensors
            if t.name.split(".lora_")[0] in VOCAB_TENSORS or n_vocab in t.data.shape]


@dataclass(frozen=True)
class TrimResult:
    path: Path
    manifest: Path
    keep: np.ndarray  # old ids of the kept tokens; new id = position
    n_vocab: int
    corpus_coverage: dict[str, Any]
    held_out_coverage: dict[str, Any] | None


def id_ranges(keep: np.ndarray) -> str:
    """Sorted ids as runs, "0-3,5-493,...": a 32k trim's 55k ids are ~3,700 runs (~35 kB), so a
    manifest can carry the exact cut and the trim can be rebuilt without its corpus."""
    ids = np.asarray(keep, dtype=np.int64)
    if len(ids) == 0:
        return ""
    breaks = np.flatnonzero(np.diff(ids) != 1)
    starts = np.concatenate(([ids[0]], ids[breaks + 1]))
    ends = np.concatenate((ids[breaks], [ids[-1]]))
    return ",".join(f"{a}" if a == b else f"{a}-{b}" for a, b in zip(starts, ends))


def trim_like(src: Path, trim_manifest: Path, out_dir: Path) -> Path:
    """Rebuild the trim ``trim_manifest`` describes from ``src`` as ``out_dir``/<its recorded
    file name>, byte for byte: same source
    sha256, the recorded kept ids, the recorded output sha256 (checked). A committed adapter
    trained on a trimmed vocabulary ships that manifest, so every machine serves it on exactly
    the ids it was trained on, whatever the corpus would give there today."""
    import json

    import gguf

    from outreach.hashing import file_sha256
    from quantize.manifest import manifest_path

    try:
        recorded = json.loads(Path(trim_manifest).read_text())
        source_sha = recorded["inputs"]["source"]["sha256"]
        ranges, output_sha = recorded["recipe"]["kept_ranges"], recorded["output"]["sha256"]
        dst = Path(out_dir) / Path(recorded["file"]).name
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise QuantizeError(f"{trim_manifest} is not a trim manifest with kept_ranges") from exc
    if file_sha256(src) != source_sha:
        raise QuantizeError(f"{src} is not the source of {trim_manifest} (sha256 "
                            f"{source_sha[:16]}...)")
    if dst.exists():
        if file_sha256(dst) == output_sha:
            return dst  # already built: setup and the workers call this on every start
        raise QuantizeError(f"{dst} exists and is not the trim {trim_manifest} describes")
    reader = gguf.GGUFReader(src)
    trim_gguf(reader, read_vocab(reader), ids_of_ranges(ranges), dst)
    del reader
    if file_sha256(dst) != output_sha:
        dst.unlink()
        raise QuantizeError(f"rebuilding {trim_manifest} gave another file than recorded")
    manifest_path(dst).write_text(json.dumps(recorded, indent=2) + "\n")
    return dst


def kept_ids(src: Path, trimmed: Path) -> np.ndarray:
    """The ``src`` ids a trimmed GGUF kept (new id = position), read back from its tokens: a
    trim keeps the original order, so each kept token is found by walking ``src`` forward."""
    import gguf

    full = read_vocab(gguf.GGUFReader(src)).tokens
    small = read_vocab(gguf.GGUFReader(trimmed)).tokens
    keep, at = np.empty(len(small), dtype=np.int64), 0
    for new, token in enumerate(small):
        while at < len(full) and full[at] != token:
            at += 1
        if at == len(full):
            raise QuantizeError(f"{trimmed} is not a trim of {src}: token {new} {token!r} is "
                                "not in it (in order)")
        keep[new], at = at, at + 1
    return keep


def trim(src: Path, dst: Path, n_merges: int, corpus: list[str],
         held_out: list[str] | None = None, adapter: Path | None = None,
         required_texts: Iterable[str] = ()) -> TrimResult:
    """Trim ``src`` to ``n_merges`` merges + the domain ``corpus`` and write ``dst`` with its
    manifest: N, the kept count, the source (and adapter) sha256, the output sha256 and the
    coverage (share of texts tokenized unchanged, token growth) of the corpus (must be 1.0 by
    construction: checked) and of ``held_out`` texts the trim never saw."""
    import time

    import gguf

    from quantize import manifest
    from quantize.trim.tokens import corpus_ids, coverage
    from outreach.hashing import file_sha256

    if dst.exists():
        raise QuantizeError(f"{dst} exists; a trim never overwrites a model")
    started = time.perf_counter()
    reader = gguf.GGUFReader(src)
    vocab = read_vocab(reader)
    keep = keep_ids(vocab, n_merges, corpus_ids(src, corpus), required_texts)
    trim_gguf(reader, vocab, keep, dst)
    del reader  # the memory map of the source
    seconds = time.perf_counter() - started
    corpus_cov = coverage(src, dst, keep, corpus)
    if corpus_cov.unchanged != corpus_cov.texts:
        raise QuantizeError(f"the trimmed vocabulary tokenizes {corpus_cov.texts - corpus_cov.unchanged}"
                            " corpus texts differently (a merge piece is missing)")
    held = coverage(src, dst, keep, held_out).as_dict() if held_out else None
    inputs = {"source": manifest.describe(src)}
    if adapter is not None:
        extra = adapter_vocab_tensors(adapter, len(vocab))
        if extra:
            raise QuantizeError(f"adapter {adapter} adapts per-token tensors {extra[:3]}: "
                                "it would need the same cut")
        inputs["adapter"] = manifest.describe(adapter) | {"loads_unchanged": True}
    path = manifest.write(
        dst, kind="vocab-trim", inputs=inputs,
        recipe={"n_merges": n_merges, "corpus_texts": len(corpus),
                "keeps": "specials, chat markers, byte/user-defined tokens, alphabet, top "
                         "merges, corpus tokens + merge pieces",
                "kept_ranges": id_ranges(keep)},
        output={"sha256": file_sha256(dst), "bytes": dst.stat().st_size,
                "seconds": round(seconds, 2)},
        metrics={"n_vocab_source": len(vocab), "kept": len(keep),
                 "coverage_corpus": corpus_cov.as_dict(), "coverage_held_out": held})
    return TrimResult(dst, path, keep, len(vocab), corpus_cov.as_dict(), held)
