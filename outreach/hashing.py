"""sha256 of files: the one hashing loop and the one verification, for the registry (publish,
download), the workers (release loading) and the training/quantize manifests."""

from __future__ import annotations

import hashlib
from pathlib import Path

from outreach.errors import RegistryError, Sha256Mismatch

_CHUNK = 4 * 1024 * 1024  # 4 MiB reads: hashing is then bound by sha256 (~1 GB/s), not syscalls


def file_sha256(path: Path) -> str:
    """sha256 of every byte of ``path``, always read in full.

    Unlike generation.model.sha256_of there is no sidecar cache: a release file is verified, not
    trusted, and a flipped byte keeps the size (and can keep the mtime). ~0.3-1 s for the 253 MB
    default model on 2 cores, a few seconds for a 2-4 GB large-tier model.
    """
    digest = hashlib.sha256()
    try:
        with Path(path).open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    except OSError as exc:
        raise RegistryError(f"cannot read {path}: {exc}") from exc
    return digest.hexdigest()


def verify_sha256(path: Path, expected: str, what: str) -> str:
    """The sha256 of ``path``; raises Sha256Mismatch unless it is ``expected`` (``what`` names
    the release or URI in the message)."""
    actual = file_sha256(path)
    if actual != expected:
        raise Sha256Mismatch(f"sha256 mismatch: {path} hashes to {actual}, not the announced "
                             f"{expected} ({what})")
    return actual
