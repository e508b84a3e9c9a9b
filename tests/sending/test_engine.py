"""The engine on a virtual clock against a real Redis and real SMTP sinks: the recipient's
window, failover to the pool, a stop that arrives while a draft waits, a paused campaign."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from mail.smtp_sink import smtp_sink
from outreach.settings import HoursSettings, MailboxSettings, SendingSettings, Settings
from outreach.stack import free_port
from sending.clock import ManualClock
from sending.engine import Engine, SmtpTransports
from sequences.state import SequenceStore, digest
from engine_support import draft, encoded

MONDAY_6_UTC = int(dt.datetime(2026, 11, 16, 6, tzinfo=dt.timezone.utc).timestamp() * 1000)
MINUTE = 60_000
DAY = 86_400_000


@pytest.fixture()
def sink(tmp_path: Path) -> Iterator:
    with smtp_sink(tmp_path / "sink") as info:
        yield info


def engine_for(settings: Settings, sink, *boxes: MailboxSettings,
               **sending) -> tuple[Engine, ManualClock]:
    cfg = SendingSettings(mailboxes=boxes, hours=HoursSettings(), **sending)
    settings = sink.configure(settings).model_copy(update={"sending": cfg})
    clock = ManualClock(MONDAY_6_UTC)
    return Engine(settings, clock, SmtpTransports()), clock


def box(n: int, port: int, **limits) -> MailboxSettings:
    return MailboxSettings(address=f"mb{n}@send.example", display_name=f"Rep {n}",
                           smtp_host="127.0.0.1", smtp_port=port, min_gap_s=0, **limits)


def sent_from(sink) -> dict[str, str]:
    return {str(m["X-Outreach-Draft-Id"] or m["Message-ID"]): str(m["From"])
            for m in sink.messages()}


def test_a_draft_waits_for_its_recipients_morning(settings: Settings, sink, unique: str) -> None:
    engine, clock = engine_for(settings, sink, box(1, sink.port))
    record, raw = encoded(draft(unique, 1, email=f"p1@{unique}.de"))  # Berlin: opens 08:00 UTC
    assert engine.accept(record, raw) == "scheduled"
    assert engine.accept(record, raw) == "duplicate_at_send"  # a redelivered record
    assert engine.tick().sent == []  # 07:00 in Berlin
    clock.advance(119 * MINUTE)
    assert engine.tick().sent == []  # 08:59
    clock.advance(MINUTE)
    report = engine.tick()
    assert [(s.draft["draft_id"], s.mailbox) for s in report.sent] == [
        (record["draft_id"], "mb1@send.example")]
    assert [m["From"] for m in sink.messages()] == ["Rep 1 <mb1@send.example>"]
    engine.close()


def test_a_failing_mailbox_is_paused_and_its_follow_ups_move(settings: Settings, sink,
                                                             unique: str) -> None:
    dead = free_port()  # nothing listens: the relay refuses every connection
    engine, clock = engine_for(settings, sink, box(1, dead), box(2, sink.port),
                               failures_to_pause=2)
    campaign = f"camp-{unique}"
    seqs = SequenceStore(engine.settings)
    for n in range(3):  # threads mb1 started earlier: their follow-ups are pinned to it
        engine.schedule.pin(digest(f"lead-{unique}-{n}", campaign), "mb1@send.example")
        engine.step_sent(digest(f"lead-{unique}-{n}", campaign), 1, MONDAY_6_UTC - 3 * DAY)
        assert engine.accept(*encoded(draft(unique, n, step=2, email=f"p{n}@{unique}.jp"))) \
            == "scheduled"
    assert engine.schedule.size(engine.schedule.mailbox_queue("mb1@send.example")) == 3
    events = []
    for _ in range(2):  # two refused connections pause mb1
        events += engine.tick().events
    assert [(e["kind"], e["name"]) for e in events] == [("mailbox_paused",
                                                         "mb1@send.example")]
    assert "Connection refused" in events[0]["reason"]
    report = engine.tick()  # the next tick moves the queue, and mb2 sends what is due
    assert [(e["kind"], e["count"]) for e in report.events] == [("queue_moved", 3)]
    assert engine.schedule.size(engine.schedule.mailbox_queue("mb1@send.example")) == 0
    assert {s.mailbox for s in report.sent} == {"mb2@send.example"} and len(report.sent) == 3
    assert engine.schedule.pinned(digest(f"lead-{unique}-0", campaign)) == "mb2@send.example"
    seqs.close()
    engine.close()


def test_a_reply_while_the_follow_up_waits_drops_it(settings: Settings, sink,
                                                   unique: str) -> None:
    engine, clock = engine_for(settings, sink, box(1, sink.port))
    seqs = SequenceStore(engine.settings)
    record, raw = encoded(draft(unique, 1, step=2, email=f"p1@{unique}.de"))
    seqs.on_draft(record, 2, 3, MONDAY_6_UTC, "")
    engine.step_sent(digest(record["lead_id"], record["campaign"]), 1, MONDAY_6_UTC - 3 * DAY)
    assert engine.accept(record, raw) == "scheduled"  # waits for 09:00 in Berlin
    seqs.on_stop(f"ev-{unique}", digest(record["lead_id"], record["campaign"]),
                 record["to_email"], "replied", record["campaign"])
    clock.advance(180 * MINUTE)
    report = engine.tick()
    assert report.sent == [] and report.dropped == {"sequence_stopped": 1}
    assert sink.messages() == []
    seqs.close()
    engine.close()


def test_a_paused_campaign_waits_for_its_operator(settings: Settings, sink, unique: str) -> None:
    engine, clock = engine_for(settings, sink, box(1, sink.port))
    campaign = f"camp-{unique}"
    engine.guard.pause_campaign(campaign, "bounce rate 9%", clock.now_ms())
    engine.accept(*encoded(draft(unique, 1, email=f"p1@{unique}.jp")))  # Tokyo: open now
    assert engine.tick().sent == []
    assert engine.resume_campaign(campaign)["kind"] == "campaign_resumed"
    assert len(engine.tick().sent) == 1
    engine.close()


def test_a_follow_up_never_goes_out_before_the_step_it_follows(settings: Settings, sink,
                                                               unique: str) -> None:
    """Step 2 was written while step 1 still waited for its recipient's morning (the scheduler
    counts a step's delay from when the previous one was written): step 2 waits for step 1 to
    go out, then for min_step_gap_h more."""
    settings = settings.model_copy(update={"sequences": settings.sequences.model_copy(
        update={"contact_cap_days": 0.0})})  # the contact cap is the gate's test, not this one
    engine, clock = engine_for(settings, sink, box(1, sink.port), min_step_gap_h=24)
    first = encoded(draft(unique, 1, step=1, email=f"p1@{unique}.de"))
    second = encoded(draft(unique, 1, step=2, email=f"p1@{unique}.de"))
    assert engine.accept(*second) == "scheduled"
    assert engine.accept(*first) == "scheduled"
    clock.advance(3 * 60 * MINUTE)  # 09:00 in Berlin: both are in their window
    assert [s.draft["step"] for s in engine.tick().sent] == [1]
    for _ in range(6):  # the rest of the day, an hour a tick: step 2 is not a day later yet
        clock.advance(60 * MINUTE)
        assert engine.tick().sent == []
    clock.advance(DAY)
    assert [s.draft["step"] for s in engine.tick().sent] == [2]
    assert [str(m["X-Outreach-Draft-Id"]) for m in sink.messages()] == [
        first[0]["draft_id"], second[0]["draft_id"]]
    engine.close()
