"""The feedback faust app end to end on the real broker and Redis: attribution with
out-of-order, duplicate and orphan events, suppression at once, KPIs, FeedbackExamples."""

import json
import time

import pytest

from outreach.kafka import make_producer
from outreach.leadgen import generate
from apps.pipeline import Services
from tests.support.sample_drafts import template_draft
from outreach.store import SyncStore
from outreach.topics import DRAFTS, ENGAGEMENT, FEEDBACK, dlq
from schemas.codec import AvroCodec
from streams.routing import build_request, choose_rule
from tests.streams.feedback_helpers import TopicReader, kpi_totals, tuned

pytestmark = pytest.mark.integration


def event(draft_id, kind, n, **extra):
    return {"event_id": f"{draft_id}-{kind}-{n}", "draft_id": draft_id, "type": kind,
            "email": extra.pop("email", None), "reply_text": extra.pop("reply_text", None),
            "url": None, "source": "test", "occurred_at": int(time.time() * 1000), **extra}


def test_attribution_kpis_suppression_and_examples(settings, unique, tmp_path):
    # The app's fresh group first replays every draft, request and event earlier tests left
    # on the shared topics (hundreds in a full run, each finalized when its outcome window is
    # long past), so the hold window and the wait leave room for that backlog on a slow
    # machine: the 90 s wait this test used to have ran out once in a full run (2026-11-23).
    # The outcome window counts from the draft's created_at, and the events of one draft can sit
    # on a partition the app reaches seconds after the draft's: with a 6 s window draft A was
    # finalized as "ignored" before its open and reply were read (CI, 2026-12-01), so 30 s.
    settings = tuned(settings, feedback={"hold_window_s": 40.0, "expiry_check_interval_s": 0.5,
                                         "outcome_window_s": 30.0})
    codec = AvroCodec()
    leads = generate(3, seed=5, campaign=f"fb-{unique}", suppressed=0).leads
    for lead in leads:  # same segment and industry: similar leads for preference pairs
        lead.update(segment="smb", industry="logistics", notes="call +1 415 555 0100")
    a, b, c = (template_draft(lead, "mini", "personalized") for lead in leads)
    orphan = f"drf-orphan-{unique}"
    producer = make_producer(settings)
    send = lambda topic, key, value: producer.produce(topic, key=key, value=value)  # noqa: E731
    # Events first: A's open and reply arrive before draft A (out of order), the open twice.
    opened = codec.encode("EngagementEvent", event(a["draft_id"], "OPENED", 1))
    send(ENGAGEMENT, a["draft_id"], opened)
    send(ENGAGEMENT, a["draft_id"], opened)
    send(ENGAGEMENT, a["draft_id"], json.dumps(event(
        a["draft_id"], "replied", 1, reply_text="Sounds great, can we talk on Tuesday?")))
    send(ENGAGEMENT, orphan, codec.encode("EngagementEvent", event(orphan, "OPENED", 1)))
    send(ENGAGEMENT, b"x", b'{"event_id": "broken-' + unique.encode() + b'"')
    # B unsubscribes; its event carries the address, which must match draft B's before
    # anything is suppressed (so the suppression waits for the join).
    send(ENGAGEMENT, b["draft_id"], codec.encode("EngagementEvent", event(
        b["draft_id"], "UNSUBSCRIBED", 1, email=b["to_email"])))
    for lead in leads:
        topic, request = build_request(lead, choose_rule(lead, settings.routing), 1, 2)
        send(topic, lead["lead_id"], codec.encode("GenerationRequest", request))
    producer.flush(10)

    services = Services(settings, tmp_path)
    services.start("feedback")
    reader = TopicReader(settings, [FEEDBACK, dlq(ENGAGEMENT)])
    store = SyncStore(settings)
    try:
        for draft in (a, b, c):  # drafts after their events
            draft["created_at"] = int(time.time() * 1000)  # the window starts now, not at setup
            send(DRAFTS, draft["draft_id"], codec.encode("EmailDraft", draft))
        producer.flush(10)
        assert _wait(lambda: store.is_suppressed(b["to_email"]), 60), "no suppression"

        def decoded(msgs):
            out = {"examples": [], "letters": []}
            for m in msgs:
                if m.topic() == FEEDBACK:
                    ex = codec.decode(m.value(), "FeedbackExample")
                    if ex["lead"]["campaign"] == f"fb-{unique}":
                        out["examples"].append(ex)
                else:
                    letter = codec.decode(m.value(), "DeadLetter")
                    if unique in (letter["value"] or b"").decode(errors="replace"):
                        out["letters"].append(letter)
            return out

        def done(msgs):
            got = decoded(msgs)
            return len(got["examples"]) >= 4 and len(got["letters"]) >= 2

        ok = reader.until(done, 300, check=services.check_alive)
        got = decoded(reader.messages)
    finally:
        reader.close()
        services.stop()
    assert ok, f"examples/letters so far: {got}"
    letters = sorted(got["letters"], key=lambda letter: letter["error_type"])
    assert [x["error_type"] for x in letters] == ["draft_not_found", "invalid_json"]
    assert "no draft" in letters[0]["error"] and letters[0]["stage"] == "feedback"

    outcomes = {ex["draft_id"]: ex for ex in got["examples"] if ex["kind"] == "OUTCOME"}
    assert outcomes[a["draft_id"]]["labels"][0] == "interested"
    assert outcomes[a["draft_id"]]["reward"] == 1.0
    assert outcomes[b["draft_id"]]["labels"][0] == "unsubscribed"
    assert outcomes[c["draft_id"]]["labels"] == ["ignored"]
    pairs = [ex for ex in got["examples"] if ex["kind"] == "PREFERENCE_PAIR"]
    assert pairs and pairs[0]["draft_id"] == a["draft_id"]
    assert pairs[0]["rejected_draft_id"] == c["draft_id"]
    lead_a = outcomes[a["draft_id"]]["lead"]
    assert lead_a["role"] == leads[0]["role"]  # the full lead came from email.requests
    assert lead_a["email"] == "<email>" and "555" not in lead_a["notes"]

    totals = kpi_totals(settings, ["variant:mini"])["variant:mini"]
    assert totals["sent"] == 3 and totals["opened"] == 1 and totals["events"] == 3
    assert totals["replied"] == 1 and totals["positive_reply"] == 1
    assert totals["unsubscribed"] == 1 and totals["cost_usd"] == pytest.approx(3 * 0.00021)


def _wait(condition, timeout_s):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False
