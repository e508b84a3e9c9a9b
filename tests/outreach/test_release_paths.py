"""A release record may name only a file of the configured registry."""

import pytest

from outreach.errors import RegistryError
from outreach.releases import release_file
from outreach.settings import load_settings


def settings_for(uri):
    base = load_settings(config_file=None)
    return base.model_copy(update={"registry": base.registry.model_copy(update={"uri": uri})})


def test_files_outside_the_registry_are_refused(tmp_path):
    registry = tmp_path / "registry"
    registry.mkdir()
    inside = registry / "m.gguf"
    inside.write_bytes(b"GGUF")
    outside = tmp_path / "secret.key"
    outside.write_bytes(b"key")
    settings = settings_for(str(registry))
    assert release_file(settings, {"uri": str(inside), "sha256": "x"}) == inside
    for uri in (str(outside), f"file://{outside}", str(registry / ".." / "secret.key"),
                "s3://other-bucket/m.gguf"):
        with pytest.raises(RegistryError, match="outside the registry"):
            release_file(settings, {"uri": uri, "release_id": "r", "sha256": "x"})


def test_an_s3_registry_refuses_other_buckets_and_local_files(tmp_path):
    settings = settings_for("s3://models/outreach")
    for uri in ("s3://models/outreach-evil/m.gguf", "s3://attacker/m.gguf", str(tmp_path)):
        with pytest.raises(RegistryError, match="outside the registry"):
            release_file(settings, {"uri": uri, "release_id": "r", "sha256": "x"})
