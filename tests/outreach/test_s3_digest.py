"""A release's sha256 names a file in the model cache (s3) or the registry (directory): it
must be a digest, never a path ("../../x" would name a file outside the folder)."""

import pytest

from outreach.errors import RegistryError
from outreach.releases import release_file
from outreach.s3 import require_sha256
from outreach.settings import load_settings
from releases.registry import DirStore

BAD = ["../../../../tmp/escape", "a" * 63, "A" * 64, "g" * 64, "a" * 64 + "/", "", None]


def test_only_64_hex_digests_pass():
    assert require_sha256("0123456789abcdef" * 4) == "0123456789abcdef" * 4
    for value in BAD:
        with pytest.raises(RegistryError, match="not a sha256"):
            require_sha256(value)


def test_an_s3_release_with_a_path_for_a_digest_is_refused_before_any_path(tmp_path):
    base = load_settings(config_file=None)
    cache = tmp_path / "cache" / "deep"
    settings = base.model_copy(update={"registry": base.registry.model_copy(
        update={"uri": "s3://models/outreach", "cache_dir": str(cache)})})
    release = {"uri": "s3://models/outreach/blobs/sha256/x.gguf", "release_id": "r",
               "sha256": "../../escape"}
    with pytest.raises(RegistryError, match="not a sha256"):
        release_file(settings, release)
    assert not (tmp_path / "escape.gguf").exists() and not cache.exists()


def test_the_directory_registry_builds_no_path_from_a_bad_digest(tmp_path):
    store = DirStore(str(tmp_path / "registry"))
    with pytest.raises(RegistryError, match="not a sha256"):
        store.blob_uri("../../../etc/passwd")
    assert store.blob_uri("ab" * 32).endswith("ab" * 32 + ".gguf")


def test_the_s3_registry_builds_no_key_from_a_bad_digest(tmp_path):
    """blob_uri and put_blob refuse before any request: the endpoint is a closed port, so a
    request would fail as "cannot reach", not as "not a sha256"."""
    pytest.importorskip("boto3")
    from releases.registry import S3Store

    base = load_settings(config_file=None)
    settings = base.model_copy(update={"registry": base.registry.model_copy(
        update={"uri": "s3://models/outreach", "s3_endpoint_url": "http://127.0.0.1:9"})})
    store = S3Store(settings)
    src = tmp_path / "m.gguf"
    src.write_bytes(b"GGUF")
    for value in BAD:
        with pytest.raises(RegistryError, match="not a sha256"):
            store.blob_uri(value)
        with pytest.raises(RegistryError, match="not a sha256"):
            store.put_blob(src, value)
    assert store.blob_uri("ab" * 32) == f"s3://models/outreach/blobs/sha256/{'ab' * 32}.gguf"
