"""Careless operator input gets one line and a non-zero exit, never a traceback or a silent run.

Each case runs the real `outreach` command in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def outreach(*args: str, cwd: Path = REPO, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith("OUTREACH_") and k not in ("KAFKA_BOOTSTRAP_SERVERS", "REDIS_URL")}
    clean["PYTHONPATH"] = str(REPO)
    return subprocess.run([sys.executable, "-m", "apps.cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120, env={**clean, **env})


def one_error_line(result: subprocess.CompletedProcess) -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize("args, words", [
    (["demo", "--leads", "-5"], "--leads must be at least 1"),
    (["demo", "--leads", "0"], "--leads must be at least 1"),
    (["teach", "--count", "-3"], "--count must be at least 1"),
])
def test_counts_of_zero_or_less_are_refused(args, words, tmp_path):
    assert words in one_error_line(outreach(*args, cwd=tmp_path))
    assert list(tmp_path.iterdir()) == []  # nothing ran, nothing written


def test_review_on_a_missing_database_creates_nothing(tmp_path):
    missing = tmp_path / "typo.db"
    assert "does not exist" in one_error_line(outreach("review", "--db", str(missing)))
    assert not missing.exists()


def test_unreachable_kafka_and_redis_are_one_line_before_any_model(tmp_path):
    for command in ("worker", "stream", "send", "feedback"):
        result = outreach(command, cwd=tmp_path, KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:1",
                          REDIS_URL="redis://127.0.0.1:2/0")
        line = one_error_line(result)
        assert "Kafka unreachable at 127.0.0.1:1" in line and "Redis unreachable" in line


def test_config_masks_secrets_and_names_its_file(tmp_path):
    (tmp_path / "outreach.yaml").write_text("sender:\n  smtp_password: hunter2\n")
    shown = outreach("config", cwd=tmp_path, REDIS_URL="redis://:pa55@127.0.0.1:6379/0",
                     OUTREACH_DASHBOARD__WEBHOOK_SECRET="whsec")
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert data["sender"]["smtp_password"] == "***"
    assert data["dashboard"]["webhook_secret"] == "***"
    assert data["redis_url"] == "redis://***@127.0.0.1:6379/0"
    assert "hunter2" not in shown.stdout and "pa55" not in shown.stdout
    assert f"settings file: {tmp_path / 'outreach.yaml'}" in shown.stderr


def test_no_settings_file_is_said_in_one_line(tmp_path):
    result = outreach("config", cwd=tmp_path)
    notes = [line for line in result.stderr.splitlines() if line.startswith("note: no settings")]
    assert result.returncode == 0 and len(notes) == 1


def test_domain_suppression_only_with_the_operator_flag(settings, unique):
    from outreach.store import SyncStore

    env = {"KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
           "REDIS_URL": settings.redis_url,
           "OUTREACH_REDIS__SUPPRESSION_KEY": settings.redis.suppression_key}
    refused = outreach("suppress", f"d-{unique}.example", **env)
    assert "not an address" in one_error_line(refused)
    done = outreach("suppress", "--domain", f"d-{unique}.example", **env)
    assert done.returncode == 0, done.stderr
    assert SyncStore(settings).is_suppressed(f"anyone@d-{unique}.example")
