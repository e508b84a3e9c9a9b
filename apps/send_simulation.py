"""`outreach sendsim`: 14 virtual days of the sending engine, on a real Redis and real SMTP sinks.

The world (seeded): 5 mailboxes (mb2's relay goes down on day 3; mb5 starts its ramp-up on
day 1), recipients in 3 time zones with their own public holidays (New York: Thanksgiving,
Kolkata: Guru Nanak's birthday, Tokyo: Labour Thanksgiving Day, all inside 2026-11-16..29),
2,000 leads in 3-step sequences over two campaigns, simulated replies, out-of-office replies,
unsubscribes, bounces, and one bounce wave (a bad list of 200 leads imported on day 5).

What runs is the engine itself (sending/engine.py: schedule, mailboxes, failover, guardrails)
and the sequence gate it asks, on a ManualClock stepped one virtual minute per tick; the
sequence side is a stand-in for the scheduler (a follow-up is written when its business-day
delay since the previous send is over) that records every draft and stop in the real sequence
state (sequences/state.py). The figures are measured from the simulation's own log of sends,
against the truth it knows about each lead, not from the engine's counters.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import heapq
import json
import random
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from mail.smtp_sink import smtp_sink
from outreach.settings import (GuardrailSettings, HoursSettings, MailboxSettings,
                               SendingSettings, SequenceSettings, Settings)
from outreach.stack import start_redis
from schemas.codec import AvroCodec
from schemas.records import EmailDraft
from apps.send_simulation_report import figures
from sending.clock import ManualClock
from sending.engine import Engine, SmtpTransports
from sequences.clock import add_business_days
from sequences.state import SequenceStore, digest

START = dt.datetime(2026, 11, 16, tzinfo=dt.timezone.utc)  # a Monday
DAYS = 14
TICK_MS = 60_000
MINUTE, HOUR = 60_000, 3_600_000
ZONES = {"US": "America/New_York", "IN": "Asia/Kolkata", "JP": "Asia/Tokyo"}
STEP_DELAYS = (3, 4)  # business days before steps 2 and 3
FAILED_MAILBOX, RAMP_MAILBOX = "mb2@mail.ledgerline.example", "mb5@mail.ledgerline.example"
FAIL_AT = START + dt.timedelta(days=2, hours=12)  # day 3, noon UTC
WAVE_AT = START + dt.timedelta(days=4, hours=6)  # day 5: the bad list arrives
WAVE_CAMPAIGN = "patchwell"


@dataclass
class Lead:
    lead_id: str
    campaign: str
    email: str
    country: str
    fields: dict[str, str]  # what the CRM tells about where they are (time_zone/country/phone)
    bounce_p: float
    step: int = 0
    stopped_at: int | None = None  # virtual ms of the reply/unsubscribe/bounce/complaint


@dataclass
class World:
    rng: random.Random
    leads: dict[str, Lead] = field(default_factory=dict)
    pending: list[tuple[int, int, str, Any]] = field(default_factory=list)  # (at, n, kind, data)
    sends: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)  # operations events, with tick
    dropped: collections.Counter[str] = field(default_factory=collections.Counter)
    stops: int = 0
    ooo: int = 0
    counter: int = 0

    def at(self, when_ms: int, kind: str, data: Any) -> None:
        self.counter += 1
        heapq.heappush(self.pending, (when_ms, self.counter, kind, data))


def sim_settings(redis_url: str, smtp_port: int, failing_port: int) -> Settings:
    def box(n: int, **extra: Any) -> MailboxSettings:
        port = failing_port if n == 2 else smtp_port
        return MailboxSettings(address=f"mb{n}@mail.ledgerline.example", display_name=f"Rep {n}",
                               smtp_host="127.0.0.1", smtp_port=port, daily_cap=40,
                               min_gap_s=240, **extra)

    mailboxes = tuple(box(n) for n in range(1, 5)) + (
        box(5, ramp_start=START.date(), ramp_first_day=5, ramp_daily_increase=3),)
    sending = SendingSettings(mailboxes=mailboxes, hours=HoursSettings(),
                              guardrails=GuardrailSettings(), tick_s=1.0)
    return Settings(redis_url=redis_url, kafka_bootstrap_servers="127.0.0.1:1",
                    sending=sending, sequences=SequenceSettings(contact_cap_days=2.0),
                    sender=Settings().sender.model_copy(update={"smtp_host": "127.0.0.1",
                                                                "smtp_port": smtp_port}))


def make_leads(world: World) -> tuple[list[Lead], list[Lead]]:
    """1,400 + 400 leads imported on day 1, and the bad list of 200 for the wave."""
    rng = world.rng

    def lead(i: int, campaign: str, bounce_p: float) -> Lead:
        country = rng.choices(("US", "IN", "JP"), weights=(50, 25, 25))[0]
        evidence = rng.random()
        user = f"p{i}"
        if country == "US":
            email, fields = f"{user}@acme{i % 97}.com", (
                {"phone": f"+1 212 555 {i % 10000:04d}"} if evidence < 0.3 else {})
        elif country == "IN":
            email = f"{user}@firm{i % 89}.in" if evidence < 0.5 else f"{user}@corp{i % 89}.com"
            fields = {} if evidence < 0.5 else {"country": "IN"}
        else:
            email = f"{user}@kaisha{i % 83}.jp" if evidence < 0.4 else f"{user}@co{i % 83}.com"
            fields = ({} if evidence < 0.4 else {"time_zone": "Asia/Tokyo"} if evidence < 0.8
                      else {"phone": f"+81 3 5555 {i % 10000:04d}"})
        return Lead(f"lead-{i}", campaign, email, country, fields, bounce_p)

    first = [lead(i, "ledgerline" if i < 1400 else WAVE_CAMPAIGN, 0.02) for i in range(1800)]
    wave = [lead(i, WAVE_CAMPAIGN, 0.30) for i in range(1800, 2000)]
    for item in first + wave:
        world.leads[item.lead_id] = item
    return first, wave


CODEC = AvroCodec()


def write_draft(engine: Engine, seqs: SequenceStore, lead: Lead, step: int, now: int) -> None:
    """What the worker and the scheduler would do: an EmailDraft, recorded in the sequence
    state with the lead (where its zone evidence lives), then handed to the engine."""
    request_id = f"req-{lead.lead_id}-{lead.campaign}-{step}"
    draft = {
        "draft_id": f"d-{lead.lead_id}-{step}", "request_id": request_id,
        "lead_id": lead.lead_id, "campaign": lead.campaign, "to_email": lead.email,
        "to_name": "Sam", "company": "Acme", "subject": "Idea for Acme",
        "body": f"Hi Sam,\n\nstep {step}.\n\nBest,\nPriya", "tier": "small",
        "variant": "miniature-a", "model_id": "sim", "model_sha256": "0" * 64,
        "prompt_hash": "0" * 64, "prompt_tokens": 1, "completion_tokens": 1, "latency_ms": 1.0,
        "lead_to_draft_ms": 1.0, "estimated_cost_usd": 0.0, "created_at": now,
        "from_name": "Priya", "from_email": "priya@ledgerline.example", "step": step}
    raw = CODEC.encode("EmailDraft", cast(EmailDraft, draft))
    crm_lead = {"lead_id": lead.lead_id, "campaign": lead.campaign, "email": lead.email,
                **lead.fields}
    seqs.on_draft(CODEC.decode(raw, "EmailDraft"), step, 3, now, json.dumps(crm_lead))
    engine.accept(CODEC.decode(raw, "EmailDraft"), raw)  # type: ignore[arg-type]


def audience(world: World, lead: Lead, step: int, sent_ms: int) -> None:
    """What the recipient does with the email, as future events."""
    rng = world.rng
    draft_id = f"d-{lead.lead_id}-{step}"
    if step == 1 and rng.random() < lead.bounce_p:
        world.at(sent_ms + rng.randint(1, 5) * MINUTE, "BOUNCED", (lead, draft_id))
        return
    roll = rng.random()
    # Replies and unsubscribes come up to 5 days late (a reader back from a trip), so some land
    # while the next step waits in the schedule for its recipient's window: the gate's case.
    if roll < 0.04:
        world.at(sent_ms + rng.randint(1, 120) * HOUR, "REPLIED", (lead, draft_id))
    elif roll < 0.055:
        world.at(sent_ms + rng.randint(1, 120) * HOUR, "UNSUBSCRIBED", (lead, draft_id))
    elif roll < 0.0555:
        world.at(sent_ms + rng.randint(1, 24) * HOUR, "COMPLAINED", (lead, draft_id))
    elif roll < 0.12:
        world.at(sent_ms + rng.randint(1, 10) * MINUTE, "OOO", (lead, draft_id))
    if step < 3:
        due = add_business_days(sent_ms, STEP_DELAYS[step - 1], (0, 1, 2, 3, 4))
        world.at(due, "STEP", (lead, step + 1))


def handle(world: World, engine: Engine, seqs: SequenceStore, kind: str, data: Any,
           now: int) -> None:
    if kind == "STEP":
        lead, step = data
        if lead.stopped_at is None:
            write_draft(engine, seqs, lead, step, now)
        return
    lead, draft_id = data
    if kind == "OOO":  # an auto-reply is no answer: the sequence goes on
        world.ooo += 1
        return
    if lead.stopped_at is None:
        lead.stopped_at = now
        world.stops += 1
    seqs.on_stop(f"ev-{draft_id}-{kind}", digest(lead.lead_id, lead.campaign), lead.email,
                 kind.lower(), lead.campaign)
    for event in engine.on_event({"draft_id": draft_id, "type": kind}):
        world.events.append(event)


def run(seed: int = 7, out: Path | None = None) -> dict[str, Any]:
    """The whole simulation; returns the figures (apps/send_simulation_report.py)."""
    world = World(random.Random(seed))
    first, wave = make_leads(world)
    start_ms = int(START.timestamp() * 1000)
    clock = ManualClock(start_ms)
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sendsim-")))
        redis_url, proc = start_redis(Settings(), folder)
        stack.callback(proc.wait, 10)
        stack.callback(proc.terminate)
        sink = stack.enter_context(smtp_sink(folder / "mail"))
        failing = contextlib.ExitStack()
        relay = failing.enter_context(smtp_sink(folder / "mail-mb2"))
        settings = sim_settings(redis_url, sink.port, relay.port)
        transports = SmtpTransports()
        stack.callback(transports.close)
        engine = Engine(settings, clock, transports)
        seqs = SequenceStore(settings)
        for lead in first:
            world.at(start_ms, "STEP", (lead, 1))
        for lead in wave:
            world.at(int(WAVE_AT.timestamp() * 1000), "STEP", (lead, 1))
        fail_ms = int(FAIL_AT.timestamp() * 1000)
        for tick in range(DAYS * 24 * 60):
            now = clock.now_ms()
            if now >= fail_ms and relay is not None:
                failing.close()  # mb2's relay goes down: connections are refused from now on
                relay = None
            while world.pending and world.pending[0][0] <= now:
                _, _, kind, data = heapq.heappop(world.pending)
                handle(world, engine, seqs, kind, data, now)
            for draft_id, raw in seqs.due_drafts(now):  # the contact cap's hand-back
                seqs.release_draft(draft_id)
                engine.accept(CODEC.decode(raw, "EmailDraft"), raw)  # type: ignore[arg-type]
            report = engine.tick()
            world.events += [dict(event, tick=tick) for event in report.events]
            world.dropped.update(report.dropped)
            for sent in report.sent:
                lead = world.leads[sent.draft["lead_id"]]
                step = int(sent.draft["step"])
                world.sends.append({"lead": lead.lead_id, "step": step, "mailbox": sent.mailbox,
                                    "at": sent.at_ms, "tick": tick})
                audience(world, lead, step, sent.at_ms)
            if FAILED_MAILBOX in {e["name"] for e in report.events if e["kind"] == "queue_moved"}:
                world.events[-1]["queue_left"] = engine.schedule.size(
                    engine.schedule.mailbox_queue(FAILED_MAILBOX))
            clock.advance(TICK_MS)
        queued = engine.schedule.sizes()
        seqs.close()
        engine.close()
        result = figures(world, settings, queued, start_ms, {
            "days": DAYS, "zones": ZONES, "fail_at_ms": fail_ms,
            "failed_mailbox": FAILED_MAILBOX, "wave_campaign": WAVE_CAMPAIGN})
    result["wall_s"] = round(time.monotonic() - started, 1)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "figures.json").write_text(json.dumps(result, indent=2, default=str))
    return result
