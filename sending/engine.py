"""The sending engine's decisions: accept a draft into the schedule, and on each tick send the
due drafts through mailboxes that have a free slot, inside each recipient's window.

No Kafka here (sending/runner.py is the process): the engine is called with decoded drafts and
events and a clock, so the 14-day simulation (apps/send_simulation.py) runs this very code on a
virtual clock against a real Redis and real SMTP sinks.

Per draft, at the send (a draft may wait days, and the world changes meanwhile): suppression,
the sequence gate (a reply, unsubscribe, bounce or complaint stopped the sequence: dropped; the
contact cap is full: handed back to the sequence scheduler), the mailbox's slot (cap and gap,
taken atomically across processes), the sent-claim (never twice), then SMTP.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from mail.message import build_message
from mail.transport import SmtpTransport
from mail.unsubscribe import unsubscribe_link
from outreach.errors import RecipientRejected, SchemaError, SendError
from outreach.settings import Settings
from outreach.store import IN_FLIGHT, SENT, SyncStore
from schemas.codec import AvroCodec
from sending.failover import Failover
from sending.guardrails import Guardrails, ops_event
from sending.hours import Hours, Recipient, recipient_of
from sending.keys import prefix, steps_sent_key, text
from sending.mailboxes import Mailbox, MailboxBook, Pool
from sending.schedule import Schedule, Scheduled
from sequences.clock import Clock
from sequences.gate import DEFERRED, STOPPED, SendGate
from sequences.state import digest, lead_of

log = logging.getLogger(__name__)

SCHEDULED, DUPLICATE, SUPPRESSED = "scheduled", "duplicate_at_send", "suppressed_at_send"
PAUSED_CAMPAIGN_RETRY_MS = 3_600_000  # a paused campaign's follow-up looks again in an hour
IN_FLIGHT_RETRY_MS = 60_000
# A follow-up whose previous step has not gone out yet looks again in an hour: the sequence
# scheduler counts a step's delay from when the previous one was written, and a first email can
# wait days in a pool's backlog (the 14-day simulation ended with 1,325 queued), so without this
# a "my note last week" could reach someone before the note itself.
PREVIOUS_STEP_RETRY_MS = 3_600_000
STEPS_SENT_TTL_S = 90 * 86_400  # longer than any sequence runs


class Transport(Protocol):
    def send(self, msg: Any) -> None: ...
    def close(self) -> None: ...


TransportFor = Callable[[Mailbox], Transport]


@dataclass(frozen=True)
class Sent:
    draft: dict[str, Any]
    mailbox: str
    at_ms: int


@dataclass
class TickReport:
    sent: list[Sent] = field(default_factory=list)
    dropped: collections.Counter[str] = field(default_factory=collections.Counter)
    rejected: list[tuple[dict[str, Any], str, str]] = field(default_factory=list)  # dead letters
    events: list[dict[str, Any]] = field(default_factory=list)  # OperationsEvents
    moved: int = 0


class SmtpTransports:
    """One SMTP session per mailbox account, opened on first use."""

    def __init__(self) -> None:
        self._open: dict[str, SmtpTransport] = {}

    def __call__(self, box: Mailbox) -> Transport:
        if box.address not in self._open:
            self._open[box.address] = SmtpTransport(box.smtp)
        return self._open[box.address]

    def close(self) -> None:
        for transport in self._open.values():
            transport.close()


class Engine:
    def __init__(self, settings: Settings, clock: Clock, transport_for: TransportFor) -> None:
        self.settings = settings
        self.cfg = settings.sending
        self.clock = clock
        self.transport_for = transport_for
        self.store = SyncStore(settings)
        self.redis = self.store.redis
        self.prefix = prefix(settings)
        self.pool = Pool(settings)
        self.book = MailboxBook(self.redis, self.prefix)
        self.schedule = Schedule(self.redis, self.prefix)
        self.guard = Guardrails(self.redis, self.prefix, self.cfg.guardrails, self.book)
        self.failover = Failover(self.pool, self.book, self.schedule, self.cfg.failures_to_pause)
        self.hours = Hours(self.cfg.hours)
        self.gate = SendGate(settings, clock)
        self.codec = AvroCodec(registry_url=settings.kafka.schema_registry_url)
        # Leases run on the engine's clock: lease_s real seconds are lease_s * speed virtual.
        self.lease_ms = int(self.cfg.lease_s * 1000 * getattr(clock, "speed", 1.0))
        self._turn = 0
        self._known: dict[str, tuple[str, str]] = {}

    # -- intake -------------------------------------------------------------------------------
    def recipient(self, draft: dict[str, Any]) -> Recipient:
        seq = self.gate.store.sequence(digest(draft["lead_id"], draft["campaign"]))
        lead = lead_of(seq) or {}
        return recipient_of(draft["to_email"], self.cfg.hours, time_zone=lead.get("time_zone"),
                            country=lead.get("country"), phone=lead.get("phone"))

    def accept(self, draft: dict[str, Any], raw: bytes) -> str:
        """Schedule a decoded draft into its recipient's next window: SCHEDULED, or DUPLICATE
        (accepted before) or SUPPRESSED (never to be sent)."""
        if self.store.is_suppressed(draft["to_email"]):
            return SUPPRESSED
        now = self.clock.now_ms()
        campaign, step = draft["campaign"], int(draft.get("step") or 1)
        sequence = digest(draft["lead_id"], campaign)
        who = self.recipient(draft)
        pinned = self.schedule.pinned(sequence) if step > 1 else None
        if pinned and self.book.is_paused(pinned):
            pinned = None  # its thread's mailbox is out: the pool's next free mailbox takes it
        queue = (self.schedule.mailbox_queue(pinned) if pinned
                 else self.schedule.campaign_queue(campaign))
        meta = {"campaign": campaign, "step": step, "lead_id": draft["lead_id"],
                "email": draft["to_email"], "sequence": sequence, "tz": who.time_zone,
                "country": who.country, "zone_from": who.source,
                "from_email": draft.get("from_email") or "", "from_name": draft.get("from_name") or ""}
        self._remember_campaign(campaign, meta["from_email"], meta["from_name"])
        if not self.schedule.accept(draft["draft_id"], queue, self.hours.next_open(who, now), raw,
                                    meta):
            return DUPLICATE
        return SCHEDULED

    def _remember_campaign(self, campaign: str, from_email: str, from_name: str) -> None:
        self.redis.hset(f"{self.prefix}:campaigns", campaign, f"{from_email}\x1f{from_name}")

    def campaigns(self) -> dict[str, tuple[str, str]]:
        raw = self.redis.hgetall(f"{self.prefix}:campaigns") or {}
        return {text(k): tuple(text(v).split("\x1f", 1)) for k, v in raw.items()}  # type: ignore

    def mailboxes(self) -> list[Mailbox]:
        if self.pool.configured:
            return list(self.pool.configured.values())
        return [self.pool.implicit(email, name) for email, name in
                sorted(set(self.campaigns().values()))]

    # -- the tick -----------------------------------------------------------------------------
    def tick(self) -> TickReport:
        """Recover dead leases, move paused mailboxes' queues, then send what is due."""
        now = self.clock.now_ms()
        report = TickReport()
        self.schedule.recover(now)
        boxes = self.mailboxes()
        moves = self.failover.move_queues(boxes, now)
        report.events += moves
        report.moved = sum(event["count"] or 0 for event in moves)
        self._turn += 1
        self._known = self.campaigns()  # one read per tick, not one per mailbox and draft
        for box in _rotated(boxes, self._turn):  # no mailbox always first in line
            while self.book.reserve(box, now, take=False).allowed:
                item = self._next_for(box, now)
                if item is None or not self._send_one(box, item, now, report):
                    break
        return report

    def _served_campaigns(self, box: Mailbox) -> list[str]:
        served = []
        for campaign, (from_email, from_name) in sorted(self._known.items()):
            pool = self.pool.for_campaign(campaign, from_email, from_name)
            if any(other.address == box.address for other in pool):
                served.append(campaign)
        return served

    def _next_for(self, box: Mailbox, now: int) -> Scheduled | None:
        # Follow-ups first (the mailbox's own queue: threads it started), then new leads: a
        # backlog of first emails must not starve the second step of a live conversation.
        own = self.schedule.due(self.schedule.mailbox_queue(box.address), now, self.cfg.batch)
        fresh = [item for c in self._served_campaigns(box) if not self.guard.campaign_paused(c)
                 for item in self.schedule.due(self.schedule.campaign_queue(c), now,
                                               self.cfg.batch)]
        candidates = (sorted(own, key=lambda item: item.score_ms)
                      + sorted(fresh, key=lambda item: item.score_ms))
        for item in candidates:
            if self.guard.campaign_paused(item.meta["campaign"]):
                self.schedule.reschedule(item, now + PAUSED_CAMPAIGN_RETRY_MS)
                continue
            who = Recipient(item.meta["tz"], item.meta.get("country"), item.meta["zone_from"])
            opens = self.hours.next_open(who, now)
            if opens != now:  # due, but its window closed while it waited for a slot
                self.schedule.reschedule(item, opens)
                continue
            ready = self._previous_step_out(item, now)
            if ready != now:
                self.schedule.reschedule(item, ready)
                continue
            if self.schedule.take(item, now + self.lease_ms):
                return item
        return None

    def step_sent(self, sequence: str, step: int, at_ms: int) -> None:
        """Record that ``step`` of ``sequence`` went out at ``at_ms`` (its next step's clock)."""
        steps = steps_sent_key(self.prefix, sequence)
        self.redis.hset(steps, str(step), at_ms)
        self.redis.expire(steps, STEPS_SENT_TTL_S)

    def _previous_step_out(self, item: Scheduled, now: int) -> int:
        """``now`` when step n-1 of the sequence went out at least ``min_step_gap_h`` ago (or
        this is step 1), else when to look again."""
        step = int(item.meta["step"])
        if step <= 1:
            return now
        sent_at = self.redis.hget(steps_sent_key(self.prefix, item.meta["sequence"]),
                                  str(step - 1))
        if sent_at is None:
            return now + PREVIOUS_STEP_RETRY_MS
        earliest = int(text(sent_at)) + int(self.cfg.min_step_gap_h * 3_600_000)
        return now if now >= earliest else earliest

    def _send_one(self, box: Mailbox, item: Scheduled, now: int, report: TickReport) -> bool:
        """Send (or settle) one taken draft; False when ``box`` can send no more this tick."""
        draft_id = item.draft_id
        raw = self.schedule.raw(draft_id)
        try:
            draft = self.codec.decode(raw or b"", "EmailDraft")
        except SchemaError as exc:  # decodable when accepted: only a damaged store gets here
            report.dropped[exc.code] += 1
            self.schedule.settle(draft_id)
            return True
        if self.store.is_suppressed(draft["to_email"]):
            return self._drop(draft_id, SUPPRESSED, report)
        verdict = self.gate.decide(draft, raw or b"")
        if verdict == STOPPED:
            return self._drop(draft_id, STOPPED, report)
        if verdict == DEFERRED:
            # The contact cap is full: the gate keeps the bytes and the sequence scheduler
            # publishes the draft again when the slot frees; this engine accepts it then.
            self.schedule.forget_seen(draft_id)
            return self._drop(draft_id, DEFERRED, report)
        if not self.book.reserve(box, now).allowed:
            self.schedule.requeue(draft_id, item.score_ms)  # another process took the slot
            return False
        claim = self.store.claim_draft(draft_id)
        if claim == SENT:
            return self._drop(draft_id, DUPLICATE, report)
        if claim == IN_FLIGHT:
            self.schedule.requeue(draft_id, now + IN_FLIGHT_RETRY_MS)
            return True
        return self._transmit(box, item, draft, now, report)

    def _transmit(self, box: Mailbox, item: Scheduled, draft: dict[str, Any], now: int,
                  report: TickReport) -> bool:
        draft_id = item.draft_id
        outgoing = dict(draft)
        if self.pool.configured:  # a pool mailbox signs as itself; replies come back to it
            outgoing.update(from_email=box.address, reply_to=box.address,
                            from_name=box.display_name or draft.get("from_name") or "")
        try:
            message = build_message(outgoing, box.from_line,  # type: ignore[arg-type]
                                    unsubscribe_link(self.settings.sender, draft_id))
            self.transport_for(box).send(message)
        except SchemaError as exc:
            self.store.mark_sent(draft_id)
            report.rejected.append((draft, exc.code, str(exc)))
            return self._drop(draft_id, exc.code, report)
        except RecipientRejected as exc:
            self.store.mark_sent(draft_id)  # settled: dead-lettered, never retried
            report.rejected.append((draft, "smtp_rejected", str(exc)))
            self._drop(draft_id, "smtp_rejected", report)
            return self._failed(box, exc, now, report)
        except SendError as exc:
            self.store.release_draft(draft_id)
            self.schedule.requeue(draft_id, now)
            log.warning("mailbox %s could not send %s: %s", box.address, draft_id, exc)
            self._failed(box, exc, now, report)
            return False
        self.store.mark_sent(draft_id)
        self.failover.on_success(box)
        self.guard.record_send(draft_id, item.meta["campaign"], box.address, now)
        self.schedule.pin(item.meta["sequence"], box.address)  # the thread's next steps
        self.step_sent(item.meta["sequence"], int(item.meta["step"]), now)
        self.schedule.settle(draft_id)
        report.sent.append(Sent(outgoing, box.address, now))
        return True

    def _failed(self, box: Mailbox, exc: SendError, now: int, report: TickReport) -> bool:
        event = self.failover.on_failure(box, exc, now)
        if event is not None:
            report.events.append(event)
            return False
        return True

    def _drop(self, draft_id: str, reason: str, report: TickReport) -> bool:
        self.schedule.settle(draft_id)
        report.dropped[reason] += 1
        return True

    # -- engagement and operators ---------------------------------------------------------------
    def on_event(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        """A bounce or complaint counts against its campaign and mailbox: the pauses it trips
        as OperationsEvents."""
        trips = self.guard.record_event(event["draft_id"], event["type"], self.clock.now_ms())
        for trip in trips:
            log.warning("%s %s paused: %s", trip.scope, trip.name, trip.reason)
        return [trip.event() for trip in trips]

    def pause_mailbox(self, address: str, reason: str) -> dict[str, Any] | None:
        now = self.clock.now_ms()
        if not self.book.pause(address.lower(), reason, now):
            return None
        return ops_event("mailbox_paused", "mailbox", address.lower(), reason, now)

    def resume_mailbox(self, address: str) -> dict[str, Any] | None:
        now = self.clock.now_ms()
        address = address.lower()
        if not self.book.resume(address, now):
            return None
        self.guard.reset("m", address)
        return ops_event("mailbox_resumed", "mailbox", address, "resumed by an operator", now)

    def resume_campaign(self, campaign: str) -> dict[str, Any] | None:
        now = self.clock.now_ms()
        if not self.guard.resume_campaign(campaign, now):
            return None
        return ops_event("campaign_resumed", "campaign", campaign, "resumed by an operator", now)

    def close(self) -> None:
        self.gate.close()
        self.store.close()


def _rotated(items: list[Mailbox], turn: int) -> Iterator[Mailbox]:
    if not items:
        return iter(())
    start = turn % len(items)
    return iter(items[start:] + items[:start])
