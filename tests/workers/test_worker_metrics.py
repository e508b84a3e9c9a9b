"""The worker's Prometheus endpoint and what an outcome adds to it."""

from __future__ import annotations

import urllib.request

from outreach.stack import free_port
from workers import metrics
from generation.engine import Completion
from generation.generate import Outcome


def _value(text: str, name: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name) and not line.startswith("#"))


def test_metrics_endpoint_counts_attempts_and_tokens():
    port = free_port()
    metrics.serve(port)
    metrics.serve(port)  # a second call in the same process is a no-op
    url = f"http://127.0.0.1:{port}/metrics"
    before = urllib.request.urlopen(url, timeout=5).read().decode()
    outcome = Outcome(request_id="req-m", lead_id="lead-m", draft={"draft_id": "drf-m"},
                      completions=[Completion("", 400, 60, 1.5, 3.0),
                                   Completion("", 400, 90, 9.0, 18.0)])
    metrics.observe_outcome(outcome)
    after = urllib.request.urlopen(url, timeout=5).read().decode()
    assert _value(after, "outreach_worker_completion_tokens_total") - \
        _value(before, "outreach_worker_completion_tokens_total") == 150
    assert _value(after, 'outreach_worker_attempts_total{result="rejected"}') - \
        _value(before, 'outreach_worker_attempts_total{result="rejected"}') == 1
    assert _value(after, "outreach_worker_generation_seconds_count") - \
        _value(before, "outreach_worker_generation_seconds_count") == 2
    for name in ("outreach_worker_drafts_total", "outreach_worker_dead_letters_total"):
        assert f"# TYPE {name} counter" in after
