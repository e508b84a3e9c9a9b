"""`outreach worker --tier llm` end to end: a real broker and Redis (this module's own stack),
llama_cpp.server on the default GGUF behind a stdlib proxy that answers 429/503 or plays dead.

The stand-in serves the few-shot prompt (llm.api = completions) to the untuned base, so some
drafts fail their checks: every request must still get exactly one outcome (a draft on
email.drafts, or a held draft in the approval queue), and a served draft records the LLM rung,
its endpoint and its token cost.
"""

from __future__ import annotations

import threading
import time

import pytest

from outreach.held import HeldDrafts
from outreach.store import sync_client
from outreach.topics import requests_topic
from schemas.codec import AvroCodec
from tests.support.worker_helpers import (Outcomes, committed_everything, make_request, produce,
                            sample_campaign, sample_leads)
from tests.support.llm_servers import FlakyProxy

pytestmark = pytest.mark.integration
TOPIC = requests_topic("llm")


@pytest.fixture(scope="module")
def campaign(worker_settings):
    from apps.campaigns import publish_campaign

    return publish_campaign(worker_settings, sample_campaign())


def _settings(worker_settings, base_url: str, **budget):
    settings = worker_settings.model_copy(deep=True)
    settings.worker.tier = "llm"
    settings.llm.base_url = base_url
    settings.llm.api = "completions"
    settings.llm.model = "local-stand-in"
    settings.llm.concurrency = 2
    settings.llm.max_tokens = 160
    settings.llm.backoff_s = 0.05
    settings.llm.backoff_max_s = 0.2
    settings.llm.max_retries = 2
    settings.llm.hold_backoff_max_s = 1.0
    for key, value in budget.items():
        setattr(settings.llm.budget, key, value)
    return settings


def _start(settings, max_messages: int, events: list) -> tuple[threading.Thread, threading.Event]:
    from workers.run import run_tier

    stop = threading.Event()
    thread = threading.Thread(target=run_tier, daemon=True, kwargs=dict(
        settings=settings, stop=stop, max_messages=max_messages, on_event=events.append))
    thread.start()
    return thread, stop


def _produce(settings, leads) -> list[dict]:
    codec = AvroCodec()
    requests = [make_request(lead, tier="llm") for lead in leads]
    produce(settings, TOPIC, [(r["lead"]["lead_id"].encode(),
                               codec.encode("GenerationRequest", r)) for r in requests])
    return requests


def test_requests_are_served_through_429_and_503(worker_settings, llm_base_url, campaign):
    with FlakyProxy(llm_base_url) as proxy:
        proxy.failures = [(429, {"retry-after": "1"}), (503, {})]
        settings = _settings(worker_settings, proxy.base_url)
        requests = _produce(settings, [sample_leads()[i] for i in (0, 2, 8)])
        events: list[dict] = []
        thread, stop = _start(settings, 3, events)
        thread.join(timeout=600)
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive()
    assert sorted(e["request_id"] for e in events) == sorted(r["request_id"] for r in requests)
    assert {e["kind"] for e in events} <= {"draft", "escalated"}
    assert proxy.seen >= proxy.forwarded + 2  # the 429 and the 503 were answered, then retried

    seen = Outcomes(settings)
    drafted = [e for e in events if e["kind"] == "draft"]
    seen.wait(lambda o: len(o.drafts) >= len(drafted), timeout_s=30)
    seen.wait(lambda o: False, timeout_s=2).close()
    assert len(seen.drafts) == len(drafted)  # one record per draft: nothing doubled
    # Every request got the LLM's answers through the proxy; whether the untuned stand-in's
    # text passes the checks depends on the CPU's kernels (3 of 3 drafted on an AMD EPYC, 0 of
    # 3 on an Intel Xeon with AVX-512: all held for review below, with the LLM's reasons).
    assert proxy.forwarded >= len(requests)
    for draft in seen.drafts:
        assert draft["rung"] == "llm" and draft["tier"] == "llm"
        assert draft["model_id"] == "llm:local-stand-in"
        assert draft["campaign_version"] == campaign.version
        assert draft["prompt_tokens"] > 0 and draft["completion_tokens"] > 0
        expected = (draft["prompt_tokens"] * 0.15 + draft["completion_tokens"] * 0.60) / 1e6
        assert draft["estimated_cost_usd"] == pytest.approx(expected)
        assert "routing rule default sends this lead to the LLM tier" in draft["rung_reasons"]
    held = HeldDrafts(sync_client(settings.redis_url), settings.redis.key_prefix, 3600)
    for event in events:
        if event["kind"] == "escalated":  # failed twice on the last model rung: a person
            assert event["to"] == "review"  # decides, starting from the last attempt's text
            item = held.get(event["draft_id"])
            assert item is not None and item.rung == "review"
            # Each rung named once, and the last attempt's reasons said to apply on screen.
            assert any(r.startswith("llm attempt 2:") for r in item.reasons)
            assert not any("llm: llm" in r for r in item.reasons)
            assert item.reasons[0].startswith("text on screen (llm attempt 2) fails: ")
    assert committed_everything(settings, TOPIC)


def test_an_endpoint_that_is_down_holds_the_request_until_it_returns(
        worker_settings, llm_base_url, campaign):
    with FlakyProxy(llm_base_url) as proxy:
        proxy.down.set()
        settings = _settings(worker_settings, proxy.base_url)
        (request,) = _produce(settings, [sample_leads()[3]])
        events: list[dict] = []
        thread, stop = _start(settings, 1, events)
        deadline = time.monotonic() + 60
        while proxy.seen < 6 and time.monotonic() < deadline:  # two rounds of 3 attempts
            time.sleep(0.2)
        assert proxy.seen >= 6 and events == []  # held: no outcome, no commit, no drop
        assert not committed_everything(settings, TOPIC)
        proxy.down.clear()
        thread.join(timeout=300)
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive()
    assert [e["request_id"] for e in events] == [request["request_id"]]
    assert events[0]["kind"] in ("draft", "escalated") and proxy.forwarded >= 1
    assert committed_everything(settings, TOPIC)


def test_over_the_budget_a_request_goes_to_review_without_a_call(
        worker_settings, llm_base_url, campaign):
    from outreach.budget import today_spend

    with FlakyProxy(llm_base_url) as proxy:
        settings = _settings(worker_settings, proxy.base_url, daily_usd=0.0)
        (request,) = _produce(settings, [sample_leads()[5]])
        events: list[dict] = []
        thread, stop = _start(settings, 1, events)
        thread.join(timeout=120)
        stop.set()
        thread.join(timeout=30)
    assert proxy.seen == 0  # the cap stopped it before any call
    assert [e["kind"] for e in events] == ["escalated"] and events[0]["to"] == "review"
    held = HeldDrafts(sync_client(settings.redis_url), settings.redis.key_prefix, 3600)
    item = held.get(events[0]["draft_id"])
    assert item is not None and any("daily LLM budget spent" in r for r in item.reasons)
    _, blocked = today_spend(sync_client(settings.redis_url), settings.redis.key_prefix)
    assert blocked.get(request["lead"]["campaign"], 0) >= 1
