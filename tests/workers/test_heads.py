"""Which head a worker serves: a release's head cut is resolved from its registry manifest and
verified like the release, and every model a slot takes is logged and exported with its head."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from generation.model import ModelInfo
from outreach.errors import RegistryError, Sha256Mismatch
from outreach.hashing import file_sha256
from workers.heads import head_cut_of, report_head


def _release(settings, root: Path, head_cut: dict | None) -> dict:
    folder = root / "releases" / "r1"
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps({"head_cut": head_cut}))
    return {"release_id": "r1", "uri": str(root / "blobs" / "x.gguf"),
            "manifest_uri": str(folder / "manifest.json")}


@pytest.fixture()
def registry_settings(settings, tmp_path):
    cfg = settings.model_copy(deep=True)
    cfg.registry.uri = str(tmp_path / "registry")
    return cfg


def test_a_release_without_a_cut_is_served_untrimmed_and_says_so(registry_settings, tmp_path,
                                                                   caplog):
    release = _release(registry_settings, tmp_path / "registry", None)
    assert head_cut_of(registry_settings, release) is None
    with caplog.at_level(logging.INFO, logger="workers.heads"):
        report_head("large", "champion", ModelInfo(path=Path("m.gguf"), model_id="m", sha256="0"))
    assert REGISTRY.get_sample_value("outreach_worker_model_head_cut",
                                     {"tier": "large", "slot": "champion"}) == 0
    assert "untrimmed" in caplog.text


def test_a_release_cut_is_verified_before_it_is_served(registry_settings, tmp_path):
    root = tmp_path / "registry"
    blob = root / "blobs" / "sha256" / "cut.gguf"
    blob.parent.mkdir(parents=True)
    blob.write_bytes(b"trimmed weights")
    release = _release(registry_settings, root, {"uri": str(blob),
                                                 "sha256": file_sha256(blob)})
    cut = head_cut_of(registry_settings, release)
    assert cut is not None and cut.path == blob and cut.sha256 == file_sha256(blob)
    blob.chmod(0o644)
    blob.write_bytes(b"other weights")  # changed after publishing: refused, not served
    with pytest.raises(Sha256Mismatch):
        head_cut_of(registry_settings, release)


def test_a_cut_outside_the_registry_is_refused(registry_settings, tmp_path):
    outside = tmp_path / "elsewhere.gguf"
    outside.write_bytes(b"x")
    release = _release(registry_settings, tmp_path / "registry",
                       {"uri": str(outside), "sha256": file_sha256(outside)})
    with pytest.raises(RegistryError):
        head_cut_of(registry_settings, release)
