"""SIGKILL a worker process mid-stream: no request is lost, redeliveries are harmless.

Also checks the graceful path: SIGTERM makes ``python -m workers`` finish, commit and exit 0.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from outreach.topics import requests_topic
from schemas.codec import AvroCodec
from tests.support.worker_helpers import (TEST_THREADS, Outcomes, committed_everything, make_request, produce,
                            sample_leads)

pytestmark = [pytest.mark.integration, pytest.mark.slow]
TOPIC = requests_topic("small")


@pytest.fixture(scope="module", autouse=True)
def campaign(worker_settings):
    """The sample leads' campaign ("autumn-test"): workers write only for published campaigns."""
    from apps.campaigns import publish_campaign
    from tests.support.worker_helpers import sample_campaign

    return publish_campaign(worker_settings, sample_campaign())
REPO = Path(__file__).resolve().parents[2]


def _start_worker(settings, log_path: Path) -> subprocess.Popen:
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
           "REDIS_URL": settings.redis_url,
           "OUTREACH_KAFKA__GROUP_PREFIX": settings.kafka.group_prefix,
           # The grammar retry costs ~15 s a request on 2 cores; not what this test is about.
           "OUTREACH_WORKER__GRAMMAR_ON_RETRY": "false",
           "OUTREACH_MODEL__N_THREADS": str(TEST_THREADS)}
    return subprocess.Popen([sys.executable, "-m", "workers", "--tier", "small"], cwd=REPO,
                            env=env, stdout=log_path.open("ab"), stderr=subprocess.STDOUT)


def test_sigkill_loses_nothing_and_sigterm_stops_cleanly(worker_settings, tmp_path):
    codec = AvroCodec()
    leads = [dict(lead, lead_id=f"kill-{i}") for i, lead in enumerate(sample_leads()[:4])]
    requests = [make_request(lead) for lead in leads]
    ids = {r["request_id"] for r in requests}
    produce(worker_settings, TOPIC, [(r["lead"]["lead_id"].encode(),
                                      codec.encode("GenerationRequest", r)) for r in requests])
    outcomes = Outcomes(worker_settings)
    log = tmp_path / "worker.log"

    first = _start_worker(worker_settings, log)
    try:
        outcomes.wait(lambda seen: seen.by_request(), timeout_s=240)  # the first outcome is out
    finally:
        first.send_signal(signal.SIGKILL)
    assert first.wait(timeout=30) == -signal.SIGKILL
    assert outcomes.by_request(), log.read_text()[-3000:]

    second = _start_worker(worker_settings, log)
    try:
        outcomes.wait(lambda seen: ids <= set(seen.by_request()), timeout_s=400)
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=60) == 0, log.read_text()[-3000:]
    finally:
        if second.poll() is None:
            second.kill()
        outcomes.close()

    by_request = outcomes.by_request()
    assert ids <= set(by_request), log.read_text()[-3000:]
    for request_id in ids:
        records = by_request[request_id]
        # Redelivered requests were regenerated into the very same outcome.
        assert len({(r.get("draft_id"), r.get("body"), r.get("error")) for r in records}) == 1
    assert committed_everything(worker_settings, TOPIC)
