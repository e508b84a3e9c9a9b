"""The retraining run lock on a real redis-server, and the feedback export from the real broker.

Two runs started at once: exactly one gets past the lock, the other reports "lock held" in its
report.json without touching any later stage; the CLI exits 3 with the holder named.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import redis

from outreach.errors import LockHeld, RetrainError
from outreach.kafka import make_producer
from outreach.leadgen import generate
from outreach.topics import FEEDBACK
from training.feedback_log import export_feedback
from releases.lock import RunLock
from releases.retrain import Run, lock_key, parse_every
from schemas.codec import AvroCodec

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture()
def client(settings):
    with redis.Redis.from_url(settings.redis_url) as connection:
        yield connection


def test_second_holder_is_refused_and_cannot_release_the_first(client, unique):
    key = f"lock-{unique}"
    first = RunLock(client, key, ttl_s=60, run_id="run-a")
    second = RunLock(client, key, ttl_s=60, run_id="run-b")
    with first:
        with pytest.raises(LockHeld, match=r"run run-a on .* \(pid \d+\)"):
            second.acquire()
        second.release()  # not the holder: must not free the lock
        assert json.loads(client.get(key))["run_id"] == "run-a"
        first.extend()
        assert 59_000 < client.pttl(key) <= 60_000
    assert client.get(key) is None
    with second:  # free again after the holder released it
        assert json.loads(client.get(key))["run_id"] == "run-b"


def test_an_expired_lock_cannot_be_extended(client, unique):
    lock = RunLock(client, f"lock-{unique}", ttl_s=60, run_id="run-a")
    lock.acquire()
    client.delete(lock.key)  # what expiry looks like to the holder
    RunLock(client, lock.key, ttl_s=60, run_id="run-b").acquire()
    with pytest.raises(RetrainError, match="expired or was taken over"):
        lock.extend()
    assert json.loads(client.get(lock.key))["run_id"] == "run-b"


def test_two_concurrent_runs_cannot_both_proceed(settings, tmp_path, client):
    settings = settings.model_copy(deep=True)
    settings.retrain.runs_dir = tmp_path / "runs"
    settings.kafka_bootstrap_servers = None  # the winner then stops at its feedback stage
    started = threading.Barrier(2)
    loser_done = threading.Event()
    reports = {}

    def say(message: str) -> None:
        if message.startswith("[feedback]"):  # the winner holds the lock until the loser ends
            loser_done.wait(30)

    def run(name: str) -> None:
        started.wait()
        report = Run(settings, say=say, run_id=name).execute()
        reports[name] = report
        if report.lock_held:
            loser_done.set()

    threads = [threading.Thread(target=run, args=(name,)) for name in ("run-1", "run-2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    held = [r for r in reports.values() if r.lock_held]
    proceeded = [r for r in reports.values() if not r.lock_held]
    assert len(held) == 1 and len(proceeded) == 1
    assert [s.name for s in held[0].stages] == ["lock"] and held[0].failed_stage == "lock"
    assert proceeded[0].failed_stage == "feedback"  # got past the lock, then had no source
    assert "no feedback source" in proceeded[0].error
    for report in reports.values():  # both runs leave their report
        saved = json.loads((settings.retrain.runs_dir / report.run_id / "report.json").read_text())
        assert saved["ok"] is False and saved["error"] == report.error
    assert client.get(lock_key(settings, settings.retrain.tier)) is None  # released


def test_cli_exits_3_naming_the_holder(settings, tmp_path, client):
    key = lock_key(settings, "small")
    with RunLock(client, key, ttl_s=60, run_id="the-nightly-run"):
        env = {**os.environ, "REDIS_URL": settings.redis_url,
               "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
               "OUTREACH_REDIS__KEY_PREFIX": settings.redis.key_prefix,
               "OUTREACH_RETRAIN__RUNS_DIR": str(tmp_path / "runs")}
        done = subprocess.run([sys.executable, "-m", "apps.cli", "retrain"], cwd=REPO,
                              env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 3, done.stderr
    assert "the-nightly-run" in done.stderr and "holds" in done.stderr
    report = json.loads(next((tmp_path / "runs").glob("*/report.json")).read_text())
    assert report["lock_held"] is True


def test_feedback_export_keeps_only_examples_after_the_last_release(settings, tmp_path, unique):
    codec = AvroCodec()
    lead = generate(1, seed=3, campaign=f"fb-{unique}", malformed=0, duplicates=0,
                    suppressed=0).leads[0]
    cutoff = int(time.time() * 1000) + 60_000  # later than anything earlier tests produced

    def example(n: int, created_at: int) -> dict:
        return {"example_id": f"{unique}-{n}", "kind": "OUTCOME", "lead": lead,
                "draft_id": f"d-{unique}-{n}", "subject": "Hello", "body": "A short body.",
                "model_id": "m", "model_version": "v1", "variant": "control",
                "labels": ["interested"], "reward": 1.0, "created_at": created_at}

    producer = make_producer(settings)
    for n, created in enumerate([cutoff - 1000, cutoff, cutoff + 1, cutoff + 5000]):
        producer.produce(FEEDBACK, key=f"d-{unique}-{n}",
                         value=codec.encode("FeedbackExample", example(n, created)))
    # (No undecodable record here: training.feedback is shared by the session's tests, and
    # the feedback-app test decodes every record on it.)
    producer.flush(10)
    out = tmp_path / "feedback.jsonl"
    counts = export_feedback(settings, cutoff, out)
    kept = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(k["example_id"] for k in kept if k["example_id"].startswith(unique)) == [
        f"{unique}-2", f"{unique}-3"]
    assert counts["undecodable"] == 0 and counts["older"] >= 2
    mine = next(k for k in kept if k["example_id"] == f"{unique}-2")
    assert mine["lead"]["email"] == lead["email"]  # nested records survive as JSON


@pytest.mark.parametrize("text,seconds", [("24h", 86400), ("30m", 1800), ("90s", 90),
                                          ("1d", 86400), ("0.5h", 1800)])
def test_every_parses_durations(text, seconds):
    assert parse_every(text) == seconds


@pytest.mark.parametrize("text", ["", "24", "h", "-1h", "0m", "5w"])
def test_every_refuses_what_it_cannot_read(text):
    with pytest.raises(RetrainError, match="schedule"):
        parse_every(text)
