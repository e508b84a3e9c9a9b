"""Fold a LoRA adapter GGUF into its base GGUF: one model file, no adapter applied at run time.

Why: llama.cpp applies a runtime adapter as two extra small matrix products and an add on each
of the 126 adapted weights (7 per layer x 18 layers for the campaign miniature, rank 8), every
one a graph node with its own thread barrier. On 2 cores that cost a 16-sequence decode step of
the trimmed model 60.6 ms against 47.6 ms without the adapter (+27%; measured, 64-token
contexts), more than the work the rank-8 products add.

How: each adapted weight is dequantized, ``W + (alpha / rank) * B @ A`` is added in float32 and
the sum is quantized as Q8_0 (F32/F16 weights keep their type). Not back to its own 4-5 bit
type: the campaign adapter's update is small (mean |dW| 0.0003 against mean |W| 0.026 in
blk.0.attn_q), well under a Q5_0 step: requantized to Q5_0, the weights moved by 0.05-0.12x
of the update (least-squares projection of the change onto it, 4 weights measured), as Q8_0
by 0.99-1.00x, the rest Q8_0 rounding uncorrelated with it. Every other tensor and every
metadata field is copied unchanged, so a trimmed base stays trimmed. The file grows with the
adapted weights' wider type (107 -> 146 MB for the 32k-trimmed base, measured).

Folded into a trim, the result is served as a head cut (generation/head_cut.py) with no runtime
adapter: its manifest carries the trim's kept ids (``recipe.kept_ranges``) and, as
``inputs.source``, the untrimmed model the head cut embeds prompts from (the trim itself is
``inputs.base``). That is exact for an adapter on the attention and MLP weights only: it leaves
``token_embd.weight`` alone, so the source's rows are still the folded network's input rows
(an adapter on a per-token tensor is refused). The update is summed in float64 in a fixed
order, so ``fold --like`` rebuilds the recorded bytes on any CPU (a BLAS matmul's summation
order follows the CPU's kernels).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from outreach.errors import QuantizeError

# Adapted weights of these types keep them; any quantized one is written as Q8_0 (see above).
_KEEP_TYPE = ("F32", "F16")


@dataclass(frozen=True)
class FoldResult:
    path: Path
    manifest: Path
    folded: int  # adapted weights
    retyped: dict[str, str]  # weight name -> new type, where the type changed
    seconds: float


def folded_name(gguf: Path, adapter: Path) -> str:
    """``model.gguf`` + ``models/<dir>/adapter.gguf`` -> ``model+<dir>.gguf``."""
    return f"{gguf.stem}+{adapter.parent.name or adapter.stem}{gguf.suffix}"


def is_folded(gguf: Path) -> bool:
    """Whether ``gguf`` was written by ``fold`` (its manifest says so): serve it adapter-free."""
    from quantize import manifest

    return manifest.read(gguf).get("kind") == "lora-fold"


def read_adapter(adapter: Path) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], float]:
    """{base weight name: (A [rank x in], B [out x rank])} and alpha of a LoRA adapter GGUF."""
    import gguf

    reader = gguf.GGUFReader(adapter)
    kind = reader.fields.get("adapter.type")
    if kind is None or kind.contents() != "lora":
        raise QuantizeError(f"{adapter} is not a LoRA adapter GGUF (adapter.type != lora)")
    alpha_field = reader.fields.get("adapter.lora.alpha")
    alpha = float(alpha_field.contents()) if alpha_field is not None else 0.0
    parts: dict[str, dict[str, np.ndarray]] = {}
    for tensor in reader.tensors:
        base, _, which = tensor.name.rpartition(".lora_")
        if which not in ("a", "b"):
            raise QuantizeError(f"{adapter}: unexpected tensor {tensor.name}")
        parts.setdefault(base, {})[which] = np.asarray(
            gguf.quants.dequantize(tensor.data, tensor.tensor_type), dtype=np.float32)
    pairs = {}
    for base, ab in parts.items():
        if set(ab) != {"a", "b"}:
            raise QuantizeError(f"{adapter}: {base} lacks lora_a or lora_b")
        pairs[base] = (ab["a"], ab["b"])
    return pairs, alpha


def fold_tensor(weight: np.ndarray, a: np.ndarray, b: np.ndarray, alpha: float) -> np.ndarray:
    """``weight`` [out x in] + scale * b @ a, with llama.cpp's scale: alpha / rank (1 if no
    alpha)."""
    rank = a.shape[0]
    if b.shape[1] != rank or (b.shape[0], a.shape[1]) != weight.shape:
        raise QuantizeError(f"LoRA shapes A {a.shape} B {b.shape} do not fit {weight.shape}")
    scale = alpha / rank if alpha else 1.0
    # Rank-1 terms in a fixed order: each product of two float32 is exact in float64, and
    # elementwise adds round the same way everywhere, so the bytes do not depend on the CPU.
    update = np.zeros(weight.shape, dtype=np.float64)
    for r in range(rank):
        update += np.multiply.outer(b[:, r].astype(np.float64), a[r].astype(np.float64))
    return (weight.astype(np.float64) + scale * update).astype(np.float32)


def head_cut_of(base: Path) -> dict[str, Any] | None:
    """The trim manifest of ``base`` when it is a vocabulary trim with its kept ids (a fold of
    it can be served as a head cut), else None."""
    from quantize import manifest

    recorded = manifest.read(base)
    if recorded.get("kind") != "vocab-trim":
        return None
    try:
        return {"kept_ranges": str(recorded["recipe"]["kept_ranges"]),
                "source": dict(recorded["inputs"]["source"])}
    except (KeyError, TypeError) as exc:
        raise QuantizeError(f"{manifest.manifest_path(base)} is a trim manifest without "
                            "recipe.kept_ranges or inputs.source: rebuild the trim") from exc


def fold(base: Path, adapter: Path, dst: Path) -> FoldResult:
    """Write ``dst``: ``base`` with ``adapter`` folded in, and its manifest."""
    import gguf

    from outreach.hashing import file_sha256
    from quantize import manifest
    from quantize.trim.vocab import VOCAB_TENSORS, copy_gguf

    if dst.exists():
        raise QuantizeError(f"{dst} exists; a fold never overwrites a model")
    started = time.perf_counter()
    pairs, alpha = read_adapter(adapter)
    reader = gguf.GGUFReader(base)
    names = {t.name for t in reader.tensors}
    missing = sorted(set(pairs) - names)
    if missing:
        raise QuantizeError(f"adapter weights {missing[:3]} are not in {base.name}")
    cut = head_cut_of(base)
    per_token = sorted(set(pairs) & set(VOCAB_TENSORS))
    if cut is not None and per_token:
        raise QuantizeError(f"adapter {adapter.name} adapts {per_token}: folded into a trim it "
                            "would no longer match the source rows a head cut embeds from")
    retyped: dict[str, str] = {}
    types: dict[str, Any] = {}

    def tensor_data(tensor: Any) -> np.ndarray:
        if tensor.name not in pairs:
            return tensor.data
        a, b = pairs[tensor.name]
        weight = gguf.quants.dequantize(tensor.data, tensor.tensor_type).astype(np.float32)
        merged = fold_tensor(weight, a, b, alpha)
        qtype = tensor.tensor_type
        if qtype.name not in _KEEP_TYPE:
            qtype = gguf.GGMLQuantizationType.Q8_0
            if tensor.tensor_type != qtype:
                retyped[tensor.name] = f"{tensor.tensor_type.name}->Q8_0"
        types[tensor.name] = qtype
        if qtype == gguf.GGMLQuantizationType.F32:
            return merged
        if qtype == gguf.GGMLQuantizationType.F16:
            return merged.astype(np.float16)
        return gguf.quants.quantize(merged, qtype)

    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.name + ".tmp")
    try:
        copy_gguf(reader, tmp, lambda _name, field: field.contents(), tensor_data,
                  tensor_type=lambda t: types.get(t.name, t.tensor_type))
        tmp.replace(dst)  # a reader never sees half a model
    except OSError as exc:
        raise QuantizeError(f"cannot write {dst}: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    seconds = time.perf_counter() - started
    inputs = {"source": manifest.describe(base), "adapter": manifest.describe(adapter)}
    recipe = {"alpha": alpha, "scale": "alpha / rank", "sum": "float64, rank-1 terms in order",
              "requantized": "adapted quantized weights as Q8_0; F32/F16 kept"}
    if cut is not None:  # served as a head cut of the trim's source (read_trim_manifest)
        inputs = {**inputs, "source": cut["source"], "base": inputs["source"]}
        recipe["kept_ranges"] = cut["kept_ranges"]
    path = manifest.write(
        dst, kind="lora-fold", inputs=inputs, recipe=recipe,
        output={"sha256": file_sha256(dst), "bytes": dst.stat().st_size,
                "seconds": round(seconds, 2)},
        metrics={"folded": len(pairs), "retyped": len(retyped)})
    return FoldResult(dst, path, len(pairs), retyped, round(seconds, 2))


def fold_like(base: Path, adapter: Path, recorded: Path, out_dir: Path) -> Path:
    """Rebuild the fold the manifest ``recorded`` describes as ``out_dir``/<its file name>, byte
    for byte (base, adapter and output sha256 checked), so a committed fold manifest serves the
    same folded head cut on every machine; an existing right file is kept (setup calls this on
    every run)."""
    import json

    from outreach.hashing import file_sha256
    from quantize.manifest import manifest_path

    try:
        record = json.loads(Path(recorded).read_text())
        inputs = record["inputs"]
        wanted = {"base": inputs.get("base", inputs["source"])["sha256"],
                  "adapter": inputs["adapter"]["sha256"]}
        output_sha, dst = record["output"]["sha256"], Path(out_dir) / Path(record["file"]).name
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise QuantizeError(f"{recorded} is not a fold manifest") from exc
    if record.get("kind") != "lora-fold":
        raise QuantizeError(f"{recorded} is not a fold manifest (kind {record.get('kind')!r})")
    for what, path in (("base", base), ("adapter", adapter)):
        if file_sha256(path) != wanted[what]:
            raise QuantizeError(f"{path} is not the {what} {recorded} was folded from (sha256 "
                                f"{wanted[what][:16]}...)")
    if dst.exists():
        if file_sha256(dst) == output_sha:
            return dst
        raise QuantizeError(f"{dst} exists and is not the fold {recorded} describes")
    fold(base, adapter, dst)
    if file_sha256(dst) != output_sha:
        dst.unlink()
        manifest_path(dst).unlink(missing_ok=True)
        raise QuantizeError(f"rebuilding {recorded} gave another file than recorded")
    manifest_path(dst).write_text(json.dumps(record, indent=2) + "\n")
    return dst
