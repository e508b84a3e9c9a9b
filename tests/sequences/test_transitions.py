"""The scheduler's transitions on real Redis, without Kafka: handlers called directly.

Cross-campaign stops (and the setting that turns them off), a booked meeting, replays after a
crash (same outputs, same ids), the cap's atomicity under concurrent senders, and the gate.
"""

from __future__ import annotations

import threading
import time

import pytest

from outreach.settings import SequenceSettings, Settings
from schemas.campaign import Step
from schemas.crm import crm_codec
from sequences.cap import ContactCap
from sequences.clock import Clock
from sequences.gate import DEFERRED, SEND, STOPPED, SendGate
from sequences.handlers import Handlers
from sequences.state import SequenceStore, digest
from seq_support import draft_for, first_request, lead

pytestmark = pytest.mark.integration

THREE = (Step(delay_business_days=0), Step(delay_business_days=2), Step(delay_business_days=3))


def handlers(settings: Settings, **cfg) -> Handlers:
    settings = settings.model_copy(update={"sequences": SequenceSettings(**cfg)})
    store = SequenceStore(settings)
    return Handlers(settings, store, ContactCap(settings, store.redis), Clock(), lambda c: THREE,
                    crm_codec())


def event(draft: dict, etype: str, text: str | None = None, url: str | None = None) -> dict:
    return {"event_id": f"ev-{draft['draft_id']}-{etype}", "draft_id": draft["draft_id"],
            "type": etype, "email": draft["to_email"], "reply_text": text, "url": url,
            "source": "test", "occurred_at": int(time.time() * 1000)}


def crm_types(h: Handlers, outputs) -> list[tuple[str, str]]:
    decoded = [h.codec.decode(o.value, "CrmUpdate") for o in outputs if o.topic == "crm.updates"]
    return [(u["type"], u["campaign_id"]) for u in decoded]


def two_campaigns(h: Handlers, unique: str) -> tuple[dict, dict]:
    email = f"x@{unique}.example"
    a, b = (draft_for(first_request(lead(f"l{unique}", c, email))) for c in ("A" + unique,
                                                                              "B" + unique))
    h.on_draft(a), h.on_draft(b)
    return a, b


def test_a_reply_in_one_campaign_stops_the_other(settings: Settings, unique: str) -> None:
    h = handlers(settings)
    a, b = two_campaigns(h, unique)
    out = h.on_event(event(a, "REPLIED", "Not interested, thanks."), b"")
    assert ("REPLIED", a["campaign"]) in crm_types(h, out)
    assert sorted(crm_types(h, out)).count(("SEQUENCE_FINISHED", b["campaign"])) == 1
    for draft in (a, b):
        assert h.store.sequence(digest(draft["lead_id"], draft["campaign"]))["status"] == "stopped"
    # A step already requested for B before the reply is dropped at the sender's gate.
    gate = SendGate(settings)
    follow_up = draft_for({**first_request(lead(b["lead_id"], b["campaign"], b["to_email"])),
                           "step": 2, "request_id": "req-b2"})
    assert gate.decide(follow_up, b"raw") == STOPPED
    gate.close()
    # Replaying the event (a crash before its outputs were acknowledged) yields the same ids.
    again = h.on_event(event(a, "REPLIED", "Not interested, thanks."), b"")
    assert [o.output_id for o in again] == [o.output_id for o in out]


def test_stops_can_stay_in_their_campaign(settings: Settings, unique: str) -> None:
    h = handlers(settings, stop_other_campaigns=False)
    a, b = two_campaigns(h, unique)
    h.on_event(event(a, "UNSUBSCRIBED"), b"")
    status = {d["campaign"]: h.store.sequence(digest(d["lead_id"], d["campaign"]))["status"]
              for d in (a, b)}
    assert status == {a["campaign"]: "stopped", b["campaign"]: "active"}


def test_out_of_office_continues_and_a_meeting_link_stops(settings: Settings,
                                                          unique: str) -> None:
    h = handlers(settings, meeting_url_prefixes=("https://cal.example/",))
    a, _ = two_campaigns(h, unique)
    out = h.on_event(event(a, "REPLIED", "I am on vacation until Monday, limited access to "
                           "email."), b"")
    replied = [h.codec.decode(o.value, "CrmUpdate") for o in out]
    assert [(u["type"], u["reply_class"]) for u in replied] == [("REPLIED", "out_of_office")]
    assert h.store.sequence(digest(a["lead_id"], a["campaign"]))["status"] == "active"
    assert h.on_event(event(a, "CLICKED", url="https://other.example/x"), b"") == []
    out = h.on_event(event(a, "CLICKED", url="https://cal.example/priya/20min"), b"")
    assert ("MEETING_BOOKED", a["campaign"]) in crm_types(h, out)
    assert h.store.sequence(digest(a["lead_id"], a["campaign"]))["reason"] == "meeting_booked"


def test_an_event_before_its_draft_waits_for_it(settings: Settings, unique: str) -> None:
    h = handlers(settings)
    draft = draft_for(first_request(lead(f"l{unique}", f"c{unique}", f"y@{unique}.example")))
    early = event(draft, "BOUNCED")
    raw = h.codec.encode("EngagementEvent", early)
    assert h.on_event(early, raw) == []  # parked: its draft is not read yet
    out = h.on_draft(draft)
    assert [t for t, _ in crm_types(h, out)] == ["SENT", "BOUNCED", "SEQUENCE_FINISHED"]
    assert h.store.parked(draft["draft_id"]) == []


def test_the_cap_admits_one_of_many_concurrent_senders(settings: Settings, unique: str) -> None:
    settings = settings.model_copy(update={"sequences": SequenceSettings(contact_cap_days=3)})
    caps = [ContactCap(settings) for _ in range(8)]
    now, results = int(time.time() * 1000), []
    barrier = threading.Barrier(len(caps))

    def race(i: int) -> None:
        barrier.wait()
        results.append(caps[i].reserve(f"z@{unique}.example", f"req-{i}", now).allowed)

    threads = [threading.Thread(target=race, args=(i,)) for i in range(len(caps))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True]
    again = [cap.reserve(f"z@{unique}.example", f"req-{i}", now).allowed
             for i, cap in enumerate(caps)]
    assert again.count(True) == 1  # the holder is admitted again, without a second slot
    later = caps[0].reserve(f"z@{unique}.example", "req-new", now + 3 * 86_400_000 + 1)
    assert later.allowed


def test_the_gate_defers_a_capped_draft_until_the_slot_frees(settings: Settings,
                                                             unique: str) -> None:
    settings = settings.model_copy(update={"sequences": SequenceSettings(contact_cap_days=2)})
    gate = SendGate(settings)
    email = f"w@{unique}.example"
    first, second = (draft_for(first_request(lead(f"l{unique}", c, email)))
                     for c in ("A" + unique, "B" + unique))
    assert gate.decide(first, b"first") == SEND
    assert gate.decide(second, b"second") == DEFERRED
    until = gate.store.deferred_until(second["draft_id"])
    assert until is not None and until - gate.clock.now_ms() > 86_400_000
    assert gate.store.due_drafts(until) == [(second["draft_id"], b"second")]
    assert gate.decide(first, b"first") == SEND  # a redelivery of the sent draft
    gate.close()


def test_a_follow_up_no_rung_could_write_finishes_its_sequence(settings: Settings,
                                                              unique: str) -> None:
    h = handlers(settings)
    a, b = two_campaigns(h, unique)
    d = digest(a["lead_id"], a["campaign"])
    h.store.redis.zadd(h.store.due_key, {d: 0})  # step 2 due now
    due = h.due_requests()
    assert [(x, step) for x, step, out in due if out is not None] == [(d, 2)]
    request_id = due[0][2].output_id
    letter = {"source_topic": "email.requests.small", "source_partition": 0, "source_offset": 1,
              "key": None, "value": None, "error_type": "checks_failed", "error": "x",
              "stage": "worker", "request_id": request_id, "lead_id": a["lead_id"],
              "failed_at": int(time.time() * 1000)}
    out = h.on_dead_letter(letter)
    assert crm_types(h, out) == [("SEQUENCE_FINISHED", a["campaign"])]
    assert h.store.sequence(d)["reason"] == "step_not_written"
    # A technical failure is no answer from the person: the other campaign goes on.
    assert h.store.sequence(digest(b["lead_id"], b["campaign"]))["status"] == "active"
    assert h.on_dead_letter({**letter, "request_id": "req-unknown"}) == []


def test_due_steps_wait_for_the_slowest_partition_of_any_scheduler(settings: Settings) -> None:
    store = SequenceStore(settings)
    try:
        # Scheduler A read partitions 0 and 1 up to 100; nobody has read partition 2 yet.
        assert store.read_everywhere(frozenset({0, 1}), 100, 3) is None
        # B catches up on partition 2 to 50: every partition is read up to 50.
        assert store.read_everywhere(frozenset({2}), 50, 3) == 50
        # A scheduler that lost partition 0 reports an older time: it never lowers the mark.
        assert store.read_everywhere(frozenset({0}), 80, 3) == 50
        assert store.read_everywhere(frozenset({2}), 120, 3) == 100
        # No engagement partition owned (a third scheduler): only reads the others' times.
        assert store.read_everywhere(frozenset(), 500, 3) == 100
    finally:
        store.close()
