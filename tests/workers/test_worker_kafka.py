"""The worker's Kafka loop against a real broker: one outcome per request, commits honoured.

The module owns its embedded stack (worker_settings: a fresh broker), so it can count every
record on the topics without seeing other tests' requests.
"""

from __future__ import annotations

import threading

import pytest

from outreach.topics import requests_topic
from schemas.codec import AvroCodec
from apps.campaigns import publish_campaign
from tests.support.worker_helpers import (Outcomes, committed_everything, make_request, produce, read_topic,
                            sample_campaign, sample_leads)
from workers.worker import group_id, run_worker

pytestmark = pytest.mark.integration
TOPIC = requests_topic("small")
GARBAGE = b"\x07 not an avro record"


@pytest.fixture(scope="module", autouse=True)
def campaign(worker_settings):
    """The sample leads' campaign ("autumn-test"): workers write only for published campaigns."""
    return publish_campaign(worker_settings, sample_campaign())


def _run(settings, generator, max_messages: int) -> list[dict]:
    # The grammar retry costs ~15 s a request on 2 cores (covered in test_engine_real.py).
    settings = settings.model_copy(deep=True)
    settings.worker.grammar_on_retry = False
    events: list[dict] = []
    stop = threading.Event()
    thread = threading.Thread(target=run_worker, daemon=True, kwargs=dict(
        settings=settings, stop=stop, max_messages=max_messages, on_event=events.append,
        generator=generator))
    thread.start()
    thread.join(timeout=600)
    stop.set()
    thread.join(timeout=30)
    assert not thread.is_alive()
    return events


def test_each_request_yields_exactly_one_outcome_and_offsets_are_committed(
        worker_settings, generator):
    codec = AvroCodec()
    requests = [make_request(lead) for lead in (sample_leads()[i] for i in (0, 5, 18))]
    produce(worker_settings, TOPIC, [(r["lead"]["lead_id"].encode(),
                                codec.encode("GenerationRequest", r)) for r in requests]
             + [(b"lead-garbage", GARBAGE)])

    # No ladder here (tests/workers/test_ladder.py climbs it): a request the base fails twice
    # is dead-lettered, so every outcome is on email.drafts or the dead-letter topic.
    settings = worker_settings.model_copy(deep=True)
    settings.escalation.llm = settings.escalation.review = False
    events = _run(settings, generator, max_messages=4)
    assert len(events) == 4 and {e["kind"] for e in events} <= {"draft", "dead_letter"}

    seen = Outcomes(worker_settings)
    # Wait for the 4 outcomes, then 2 s more: a duplicate would show up here.
    seen.wait(lambda o: len(o.drafts) + len(o.letters) >= 4, timeout_s=30)
    seen.wait(lambda o: False, timeout_s=2).close()
    drafts, letters = seen.drafts, seen.letters
    assert len(drafts) + len(letters) == 4  # nothing lost, nothing duplicated
    outcome_ids = [d["request_id"] for d in drafts] + [x["request_id"] for x in letters]
    for request in requests:
        assert outcome_ids.count(request["request_id"]) == 1
    garbage = [x for x in letters if x["request_id"] is None]
    assert len(garbage) == 1 and garbage[0]["value"] == GARBAGE
    assert garbage[0]["error_type"] == "bad_framing" and garbage[0]["stage"] == "worker"
    assert garbage[0]["source_topic"] == TOPIC and garbage[0]["lead_id"] == "lead-garbage"
    for letter in letters:
        if letter["request_id"] is not None:  # a request the base model failed twice
            assert letter["error_type"] == "checks_failed" and "attempt 2:" in letter["error"]
    for draft in drafts:
        assert draft["draft_id"].startswith("drf-") and draft["body"]
    assert committed_everything(worker_settings, TOPIC)


def test_rejected_drafts_become_dead_letters_and_the_group_resumes_after_commits(
        worker_settings, generator):
    """A campaign's strict limits reject every draft; the same group only sees the one new
    request."""
    codec = AvroCodec()
    publish_campaign(worker_settings, sample_campaign(
        campaign_id="strict-test", body_min_words=1, body_max_words=10))
    request = make_request(dict(sample_leads()[9], lead_id="lead-strict", campaign="strict-test"))
    value = codec.encode("GenerationRequest", request)
    produce(worker_settings, TOPIC, [(b"lead-strict", value)])
    strict = worker_settings.model_copy(deep=True)
    strict.model.max_tokens = 48
    # No rung above the miniature: a failed request is dead-lettered, not escalated or held.
    strict.escalation.llm = strict.escalation.review = False

    events = _run(strict, generator, max_messages=1)
    assert [e.get("request_id") for e in events] == [request["request_id"]]
    seen = Outcomes(worker_settings)
    seen.wait(lambda o: request["request_id"] in o.by_request(), timeout_s=30).close()
    mine = seen.by_request()[request["request_id"]]
    assert len(mine) == 1
    letter = mine[0]
    assert letter["error_type"] == "checks_failed" and letter["lead_id"] == "lead-strict"
    assert "attempt 1: body too long" in letter["error"] and "attempt 2:" in letter["error"]
    assert letter["value"] == value and letter["key"] == b"lead-strict"
    # A second consumer in the same group gets nothing: every offset is committed.
    assert committed_everything(worker_settings, TOPIC)
    assert read_topic(worker_settings, TOPIC, 1, timeout_s=6, group=group_id(worker_settings)) == []
