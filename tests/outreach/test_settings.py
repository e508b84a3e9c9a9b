import pytest

from outreach.errors import ConfigError
from outreach.settings import load_settings


def test_precedence_flags_over_env_over_file(tmp_path, monkeypatch):
    config = tmp_path / "outreach.yaml"
    config.write_text("model:\n  max_tokens: 99\n  n_ctx: 4096\nworker:\n  tier: large\n")
    monkeypatch.setenv("OUTREACH_MODEL__N_CTX", "1024")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka-1:9092")
    monkeypatch.setenv("REDIS_URL", "redis://r:6379/1")
    settings = load_settings(config, **{"model.max_tokens": 50, "worker.metrics_port": None})
    assert settings.model.max_tokens == 50          # flag
    assert settings.model.n_ctx == 1024             # env beats file
    assert settings.worker.tier == "large"          # file beats default
    assert settings.kafka_bootstrap_servers == "kafka-1:9092"
    assert settings.redis_url == "redis://r:6379/1"


def test_bad_settings_are_reported_clearly(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("worker:\n  tier: medium\n")
    with pytest.raises(ConfigError, match="tier"):
        load_settings(config)
    config.write_text("routing:\n  rules: []\n")
    with pytest.raises(ConfigError, match="at least one rule"):
        load_settings(config)
    config.write_text("- a list\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_settings(config)
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "missing.yaml")


def test_unknown_keys_are_rejected_not_ignored(tmp_path):
    config = tmp_path / "typo.yaml"
    config.write_text("modle:\n  max_tokens: 10\n")
    with pytest.raises(ConfigError, match="modle"):
        load_settings(config)


def test_a_model_flag_serves_that_model_whole(tmp_path):
    """model.trimmed_path is a trim of the configured model: --model names another network,
    so the trim is dropped with it (unless the flags name one too)."""
    config = tmp_path / "s.yaml"
    config.write_text("model:\n  gguf_path: base.gguf\n  trimmed_path: trim/base-trim32k.gguf\n")
    assert str(load_settings(config).model.trimmed_path) == "trim/base-trim32k.gguf"
    other = load_settings(config, **{"model.gguf_path": "large.gguf"})
    assert str(other.model.gguf_path) == "large.gguf" and other.model.trimmed_path is None
    both = load_settings(config, **{"model.gguf_path": "large.gguf",
                                    "model.trimmed_path": "large-trim.gguf"})
    assert str(both.model.trimmed_path) == "large-trim.gguf"
    assert load_settings(config, **{"model.gguf_path": None}).model.trimmed_path is not None


def test_null_in_the_environment_unsets_a_file_setting(tmp_path, monkeypatch):
    """The untrimmed model one variable away: OUTREACH_MODEL__TRIMMED_PATH=null."""
    config = tmp_path / "s.yaml"
    config.write_text("model:\n  trimmed_path: trim/base-trim16k.gguf\n")
    monkeypatch.setenv("OUTREACH_MODEL__TRIMMED_PATH", "null")
    assert load_settings(config).model.trimmed_path is None
