"""A training run -> one Hugging Face model directory that GGUF conversion can read.

- LoRA run (``<run>/adapter/`` saved by peft): the base named in ``<run>/manifest.json`` is
  loaded (a GGUF base dequantized to fp32, its quantizer marker cleared by base_model.load_model
  so that it can be saved), the adapter is merged into the weights (W + B A * alpha / r, what
  llama.cpp computes at run time for a GGUF adapter) and the result saved in fp32, so the F16
  conversion rounds once.
- Full fine-tune (``<run>/model/``): already a model directory; its files are hard-linked
  (copied across file systems) into the output so the run directory is never modified.
Either way the output gets the tokenizer files and ``training_manifest.json`` (the run's
manifest plus what was merged), which quantize/convert.py copies into the GGUF's manifest.

Gemma 3's converter reads the vocabulary from a sentencepiece ``tokenizer.model``; without one
it needs a tokenizer.json pre-tokenizer it knows by hash, and the one transformers rebuilds from
a GGUF base is not among them (measured: "BPE pre-tokenizer was not recognized"). So for a Gemma
GGUF base the sentencepiece model is rebuilt from the base GGUF's own vocabulary (tokens, scores
and token types: exactly what llama.cpp tokenizes with), the output's transformers tokenizer is
built from it (tokenizer_from_gguf), and the converted model tokenizes like the base.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

from outreach.errors import TrainingError
from training import base_model
from training.gguf_tokenizer import tokenizer_from_gguf

_TOKENIZER_FILES = frozenset({"tokenizer.json", "tokenizer_config.json", "tokenizer.model",
                              "special_tokens_map.json", "added_tokens.json"})


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)  # a 1 GB fp32 model costs no space or time when linked
    except OSError:
        shutil.copy2(src, dst)


def _base_ref(manifest: dict[str, Any], run_dir: Path) -> base_model.BaseRef | None:
    path = manifest.get("base", {}).get("path")
    if not path or path == "in-memory":
        return None
    ref = base_model.resolve_base(path)
    expected = manifest["base"].get("sha256")
    if expected and expected != ref.sha256:
        raise TrainingError(f"base {path} has changed since run {run_dir} was trained "
                            f"(sha256 {ref.sha256[:12]} != {expected[:12]}); merging would "
                            "give a different model")
    return ref


def _rebuilds_tokenizer(manifest: dict[str, Any], ref: base_model.BaseRef | None) -> bool:
    """A Gemma GGUF base: its tokenizer is rebuilt from the GGUF's sentencepiece vocabulary
    (decided from the run manifest; opening the GGUF to look takes ~9 s for 262k tokens)."""
    model_type = str(manifest.get("base", {}).get("model_type") or "")
    return ref is not None and bool(ref.gguf_file) and model_type.startswith("gemma")


def _merge_lora(run_dir: Path, ref: base_model.BaseRef | None, out: Path,
                own_tokenizer: bool) -> None:
    import torch
    from peft import PeftModel

    if ref is None:
        raise TrainingError(f"run {run_dir} was trained on an in-memory base; there is no "
                            "base on disk to merge its adapter into")
    model = base_model.load_model(ref, torch.float32)
    try:
        merged = PeftModel.from_pretrained(model, run_dir / "adapter").merge_and_unload()
    except (OSError, ValueError, RuntimeError) as exc:
        raise TrainingError(f"cannot merge {run_dir / 'adapter'} into {ref.path}: {exc}") from exc
    merged.save_pretrained(out)
    if own_tokenizer:
        base_model.load_tokenizer(ref).save_pretrained(out)


def merge_run(run_dir: Path, out_dir: Path) -> Path:
    """Write the full model of training run ``run_dir`` to ``out_dir`` (must not exist yet)."""
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    try:
        manifest = json.loads((run_dir / "manifest.json").read_text())
    except (OSError, ValueError) as exc:
        raise TrainingError(f"{run_dir} is not a training run (manifest.json: {exc})") from exc
    if out_dir.exists():
        raise TrainingError(f"{out_dir} already exists; a merge never overwrites")
    ref = _base_ref(manifest, run_dir)
    rebuild = _rebuilds_tokenizer(manifest, ref)
    # Built under a temporary name and renamed when complete: a crash leaves no half model
    # that a later conversion could mistake for a finished one.
    tmp = out_dir.with_name(f".{out_dir.name}.partial-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    started = time.perf_counter()
    try:
        method = manifest.get("method")
        if method == "lora":
            _merge_lora(run_dir, ref, tmp, own_tokenizer=not rebuild)
        elif method == "full":
            for src in (run_dir / "model").iterdir():
                # Rebuilt tokenizer files are written, not linked: writing through a hard link
                # would change the run's own copy.
                if src.is_file() and not (rebuild and src.name in _TOKENIZER_FILES):
                    _link_or_copy(src, tmp / src.name)
        else:
            raise TrainingError(f"run {run_dir} has unknown method {method!r}")
        vocab = None
        if rebuild:
            tokenizer_from_gguf(ref.path, tmp)
            vocab = {"tokenizer": f"rebuilt from {ref.path.name}"}
        elif ref is not None and (ref.directory / "tokenizer.model").is_file() and \
                not (tmp / "tokenizer.model").exists():
            shutil.copy2(ref.directory / "tokenizer.model", tmp / "tokenizer.model")
        merge = {"run_dir": str(run_dir), "method": method, "vocab": vocab,
                 "seconds": round(time.perf_counter() - started, 1)}
        (tmp / "training_manifest.json").write_text(
            json.dumps({**manifest, "merge": merge}, indent=2) + "\n")
        tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir
