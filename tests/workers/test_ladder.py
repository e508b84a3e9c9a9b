"""The escalation ladder end to end on a real broker and Redis, the real miniature and a real
llama_cpp.server as the LLM tier: a request neither can write (its campaign asks for 900+
words, a check no 160-token draft passes) goes miniature -> LLM -> the approval queue with
every rung's reasons, and is dead-lettered only when no rung is left."""

from __future__ import annotations

import threading
import uuid

import pytest

from outreach.held import HeldDrafts
from outreach.store import sync_client
from outreach.topics import requests_topic
from schemas.codec import AvroCodec
from tests.support.worker_helpers import (Outcomes, make_request, produce, read_topic, sample_campaign,
                            sample_leads)

pytestmark = pytest.mark.integration
IMPOSSIBLE = "ladder-impossible"


@pytest.fixture(scope="module")
def impossible_campaign(worker_settings):
    from apps.campaigns import publish_campaign

    return publish_campaign(worker_settings, sample_campaign(
        campaign_id=IMPOSSIBLE, body_min_words=900, body_max_words=1000))


def _lead(index: int) -> dict:
    return {**sample_leads()[index], "campaign": IMPOSSIBLE, "lead_id": f"ladder-{index}"}


def _settings(worker_settings, tier: str, llm_url: str | None, review: bool = True):
    settings = worker_settings.model_copy(deep=True)
    settings.worker.tier = tier
    settings.worker.grammar_on_retry = False  # ~15 s per grammar retry; not what is tested
    settings.llm.base_url = llm_url
    settings.llm.api = "completions"
    settings.llm.model = "local-stand-in"
    settings.llm.max_tokens = 96
    settings.escalation.review = review
    return settings


def _run(settings, generator=None) -> list[dict]:
    from workers.run import run_tier
    from workers.worker import run_worker

    events: list[dict] = []
    stop = threading.Event()
    kwargs = dict(settings=settings, stop=stop, max_messages=1, on_event=events.append)
    target = run_tier  # tier llm: the endpoint's loop
    if generator is not None:  # the miniature, sharing the session's loaded model
        kwargs["generator"] = generator
        target = run_worker
    thread = threading.Thread(target=target, daemon=True, kwargs=kwargs)
    thread.start()
    thread.join(timeout=600)
    stop.set()
    thread.join(timeout=30)
    assert not thread.is_alive()
    return events


def test_a_request_the_miniature_fails_climbs_to_the_llm_then_to_review(
        worker_settings, generator, llm_base_url, impossible_campaign):
    codec = AvroCodec()
    request = make_request(_lead(0))
    small = _settings(worker_settings, "small", llm_base_url)
    produce(small, requests_topic("small"), [(b"ladder-0", codec.encode("GenerationRequest",
                                                                         request))])
    (event,) = _run(small, generator)
    assert event["kind"] == "escalated" and event["to"] == "llm"

    (up,) = [codec.decode(m.value(), "GenerationRequest")
             for m in read_topic(small, requests_topic("llm"), 1)]
    assert up["request_id"] == request["request_id"] and up["rung"] == "llm"
    assert up["rung_reasons"] and all(r.startswith("miniature attempt") for r in up["rung_reasons"])
    assert any("body too short" in r for r in up["rung_reasons"])

    (event,) = _run(_settings(worker_settings, "llm", llm_base_url))
    assert event["kind"] == "escalated" and event["to"] == "review"
    held = HeldDrafts(sync_client(small.redis_url), small.redis.key_prefix, 3600)
    item = held.get(event["draft_id"])
    assert item is not None and item.status == "pending" and item.rung == "review"
    rungs = [r.split(":", 1)[0] for r in item.reasons]
    # Every rung's reasons travel with it, each rung named once; what applies to the text on
    # screen (the LLM's last attempt) comes first.
    assert "miniature attempt 1" in rungs and "llm attempt 1" in rungs
    assert not any("llm: llm" in r or "miniature: attempt" in r for r in item.reasons)
    assert item.reasons[0].startswith("text on screen (llm attempt 2) fails: ")
    assert item.draft["rung"] == "review" and item.draft["model_id"] == "llm:local-stand-in"
    assert item.lead["lead_id"] == "ladder-0"
    # The reviewer starts from a whole email: the prompt's prefill plus the last attempt.
    assert item.draft["subject"].startswith("A quick idea for")
    assert item.draft["body"].startswith(f"Hi {_lead(0)['first_name']},")

    seen = Outcomes(small)  # nothing reached the mail senders
    seen.wait(lambda o: False, timeout_s=3).close()
    assert not [d for d in seen.drafts if d["request_id"] == request["request_id"]]


def test_with_no_rung_left_the_request_is_dead_lettered_with_its_reasons(
        worker_settings, generator, impossible_campaign):
    codec = AvroCodec()
    request = make_request(_lead(1))
    settings = _settings(worker_settings, "small", None, review=False)  # no LLM, no review
    produce(settings, requests_topic("small"), [(b"ladder-1", codec.encode("GenerationRequest",
                                                                            request))])
    (event,) = _run(settings, generator)
    assert event["kind"] == "dead_letter" and event["error_type"] == "checks_failed"
    assert "miniature attempt 1:" in event["error"] and "body too short" in event["error"]


def test_routing_rules_flag_review_and_a_qc_sample_is_held(worker_settings):
    from outreach.kafka import make_producer
    from outreach.settings import RoutingRule
    from workers.ladder import Ladder, qc_sampled

    settings = worker_settings.model_copy(deep=True)
    settings.routing.rules = [RoutingRule(name="vip", tier="large", review=True),
                              RoutingRule(name="default", tier="small")]
    ladder = Ladder(settings, make_producer(settings), AvroCodec())
    draft = {"draft_id": "drf-qc-1", "rung_reasons": []}
    assert ladder.hold_reason({"rule": "vip", "tier": "large"}, draft) == \
        "routing rule vip asks for review"
    assert ladder.hold_reason({"rule": "default", "tier": "small"}, draft) is None
    assert ladder.hold_reason({"rule": "default", "tier": "llm", "rung": "llm",
                               "rung_reasons": ["miniature: x"]}, draft) == \
        "escalated to the llm rung"
    settings.approval.qc_sample_rate = 0.5
    sampled = sum(qc_sampled(f"drf-{i}", 0.5) for i in range(2000))
    assert 900 < sampled < 1100  # about half, and the same draft_id always gets the same answer
    assert all(qc_sampled("drf-7", 0.5) == qc_sampled("drf-7", 0.5) for _ in range(3))
    # A sampled draft is held, and the held store has it (what the worker does with a reason).
    tag = uuid.uuid4().hex[:8]
    ids = [f"drf-qc-{tag}-{i}" for i in range(100)]
    sampled_id = next(i for i in ids if qc_sampled(i, 0.5))
    kept_id = next(i for i in ids if not qc_sampled(i, 0.5))
    request = {"rule": "default", "tier": "small", "lead": _lead(2)}
    assert ladder.hold_reason(request, {"draft_id": kept_id, "rung_reasons": []}) is None
    qc_draft = {"draft_id": sampled_id, "rung": "miniature", "rung_reasons": []}
    reason = ladder.hold_reason(request, qc_draft)
    assert reason == "quality-control sample (50% of drafts)"
    assert ladder.hold(request, qc_draft, reason)
    held = HeldDrafts(sync_client(settings.redis_url), settings.redis.key_prefix, 3600)
    item = held.get(sampled_id)
    assert item is not None and item.status == "pending" and item.draft == qc_draft
    assert item.lead["lead_id"] == "ladder-2"
    assert item.reasons == ["text on screen (miniature): passes every check", f"held: {reason}"]
