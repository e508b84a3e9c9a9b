"""The manifest written beside every GGUF this package makes: ``<name>.gguf.manifest.json``.

It says what the file was made from (each input with its sha256), how (the conversion or the
quant type), what it scored (metrics, the gate's report, added later) and from which commit, so
a released model can be traced back to its training run without the directory it came from.
The GGUF itself is never rewritten; the manifest is a sidecar that later stages add to.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

from outreach.errors import QuantizeError
from outreach.hashing import file_sha256

SUFFIX = ".manifest.json"


def manifest_path(gguf: Path) -> Path:
    return gguf.with_name(gguf.name + SUFFIX)


def describe(path: Path) -> dict[str, Any]:
    """An input: a file's sha256 and size, or a model directory's files (each with its sha256)
    and one digest over them (name + sha256 of every file, sorted)."""
    path = Path(path)
    try:
        if path.is_file():
            return {"path": str(path), "sha256": file_sha256(path), "bytes": path.stat().st_size}
        files = {p.name: file_sha256(p) for p in sorted(path.iterdir()) if p.is_file()}
    except OSError as exc:
        raise QuantizeError(f"cannot read {path}: {exc}") from exc
    digest = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()
    return {"path": str(path), "sha256": digest, "files": files}


def _git_commit() -> str:
    from training.train import git_commit

    return git_commit()


def _write(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, path)  # atomic: a reader never sees half a manifest
    except OSError as exc:
        raise QuantizeError(f"cannot write {path}: {exc}") from exc


def write(gguf: Path, *, kind: str, inputs: dict[str, dict[str, Any]], recipe: dict[str, Any],
          output: dict[str, Any], metrics: dict[str, Any] | None = None) -> Path:
    """Write the manifest of a GGUF just made; ``output`` holds its sha256/bytes/seconds."""
    path = manifest_path(gguf)
    _write(path, {"kind": kind, "file": gguf.name, "inputs": inputs, "recipe": recipe,
                  "output": output, "metrics": metrics or {}, "git_commit": _git_commit(),
                  "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    return path


def read(gguf: Path) -> dict[str, Any]:
    path = manifest_path(gguf)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise QuantizeError(f"cannot read {path}: {exc}") from exc


def update(gguf: Path, **sections: Any) -> dict[str, Any]:
    """Merge ``sections`` (e.g. metrics=..., gate=...) into the manifest; dicts are merged one
    level deep so metrics from two stages (rubric, perplexity) both stay."""
    data = read(gguf)
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    _write(manifest_path(gguf), data)
    return data
