"""Every adapter is a model of its own: its short content hash is in the model id (and the
version), so drafts, KPIs and A/B arms never merge the 40- and the 120-step adapter."""

from __future__ import annotations

from pathlib import Path

from outreach.settings import Settings
from generation.model import SHORT_HASH_CHARS, adapter_name, resolve_model

REPO = Path(__file__).resolve().parents[2]


def _settings(base: Path, lora: Path | None, **model) -> Settings:
    settings = Settings()
    settings.model.gguf_path, settings.model.lora_path = base, lora
    settings.model.trimmed_path = None
    for key, value in model.items():
        setattr(settings.model, key, value)
    return settings


def test_two_adapters_with_one_name_and_version_get_two_ids(tmp_path):
    base = tmp_path / "base.gguf"
    base.write_bytes(b"base weights")
    ids = set()
    for steps in (40, 120):
        lora = tmp_path / f"lora-{steps}" / "adapter.gguf"
        lora.parent.mkdir()
        lora.write_bytes(f"adapter trained {steps} steps".encode())
        info = resolve_model(_settings(base, lora, model_version="lora-campaigns-v1"))
        assert info.model_id.startswith(f"base.gguf+lora-{steps}@")
        assert info.model_id.endswith(info.lora_sha256[:SHORT_HASH_CHARS])
        assert info.version == f"lora-campaigns-v1@{info.lora_sha256[:SHORT_HASH_CHARS]}"
        ids.add((info.model_id, info.version))
    assert len(ids) == 2


def test_a_configured_id_keeps_its_name_and_gains_the_hash(tmp_path):
    base, lora = tmp_path / "base.gguf", tmp_path / "a.gguf"
    base.write_bytes(b"b")
    lora.write_bytes(b"a")
    info = resolve_model(_settings(base, lora, model_id="campaigns-champion"))
    assert info.model_id == f"campaigns-champion@{info.lora_sha256[:SHORT_HASH_CHARS]}"
    plain = resolve_model(_settings(base, None, model_id="campaigns-champion"))
    assert plain.model_id == "campaigns-champion" and plain.version == ""


def test_the_committed_adapters_have_distinct_ids():
    loras = sorted(REPO.glob("models/*/adapter.gguf"))
    assert len(loras) >= 2
    names = {adapter_name(path) for path in loras}
    assert "gemma3-270m-campaigns-lora-120" in names and len(names) == len(loras)
