"""`outreach demo --sequence`: a 3-step sequence on the embedded stack, business days in seconds.

Intake, a worker per routed tier, the mail sender and the sequence scheduler run as their own
processes (as in production) on a virtual clock (`sequences.clock_speed`: one business day =
``day_s`` real seconds). The Ledgerline example campaign gets three steps; a handful of leads
enter it. When the first second email is written, a simulated reply ("interested") arrives
for it: that lead's third step is never requested, while the other leads' sequences go on.
The summary is the funnel per step, read from crm.updates (what a CRM would receive).
"""

from __future__ import annotations

import collections
import random
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from confluent_kafka import Consumer
from rich.console import Console
from rich.table import Table

from apps.campaigns import publish_campaign
from apps.demo import DEMO_SENDING_ENV
from apps.llm_arm import held_leads
from apps.pipeline import OutcomeWatcher, Services
from mail.smtp_sink import smtp_sink
from outreach import leadgen
from outreach.kafka import consumer_config, make_producer
from outreach.settings import SequenceSettings, Settings
from outreach.stack import embedded_stack
from outreach.topics import CRM_UPDATES, ENGAGEMENT, LEADS
from schemas.campaign import Step, load_campaign
from schemas.crm import crm_codec
from schemas.records import EngagementEvent, Lead

BRIEF = Path(__file__).resolve().parents[1] / "campaigns" / "examples" / "ledgerline-ap.yaml"
STEPS = (Step(delay_business_days=0),
         Step(delay_business_days=2, brief="a short bump that adds one proof point"),
         Step(delay_business_days=3, brief="a last, two-line note; offer to close the file"))
REPLY = "Thanks, this sounds interesting. Could we talk on Thursday afternoon?"


@dataclass
class SequenceSummary:
    leads: int = 0
    sent_by_step: collections.Counter[int] = field(default_factory=collections.Counter)
    replied_by_step: collections.Counter[int] = field(default_factory=collections.Counter)
    finished: dict[str, str] = field(default_factory=dict)  # lead -> reason
    failed: set[str] = field(default_factory=set)  # a step held for a person or dead-lettered
    replied_lead: str = ""
    timed_out: bool = False
    steps_after_reply: int = 0
    mail_dir: Path | None = None
    wall_s: float = 0.0

    def table(self) -> Table:
        table = Table(title="3-step sequence (virtual business days)")
        for name in ("step", "sent", "replied", "stopped here", "finished here"):
            table.add_column(name, justify="right")
        stopped = collections.Counter(int(r.split("@")[1]) for r in self.finished.values()
                                      if not r.startswith("completed"))
        done = collections.Counter(int(r.split("@")[1]) for r in self.finished.values()
                                   if r.startswith("completed"))
        for step in range(1, len(STEPS) + 1):
            table.add_row(str(step), str(self.sent_by_step[step]),
                          str(self.replied_by_step[step]), str(stopped[step]), str(done[step]))
        return table


def run_sequence_demo(settings: Settings, console: Console | None = None, leads: int = 4,
                      day_s: float = 4.0, timeout_s: float = 900) -> SequenceSummary:
    console = console or Console(stderr=True)
    out_dir = Path(settings.demo.out_dir).resolve() / "sequence"
    mail_dir = out_dir / "mail"
    summary = SequenceSummary(leads=leads, mail_dir=mail_dir)
    started = time.monotonic()
    clock = SequenceSettings(clock_speed=86_400 / day_s, clock_epoch_ms=int(time.time() * 1000),
                             tick_s=0.5)
    settings = settings.model_copy(update={"sequences": clock})
    tiers = sorted({rule.tier for rule in settings.routing.rules} - {"llm"})
    with embedded_stack(settings, out_dir / "stack") as stack, \
            smtp_sink(mail_dir) as sink:
        settings = settings.with_connections(stack.bootstrap_servers, stack.redis_url)
        services = Services(settings, out_dir / "logs", extra_env={
            "OUTREACH_SENDER__SMTP_HOST": sink.host, "OUTREACH_SENDER__SMTP_PORT": str(sink.port),
            **DEMO_SENDING_ENV})
        watcher = OutcomeWatcher(settings)
        crm = Consumer(consumer_config(settings, f"demo-crm-{uuid.uuid4().hex[:8]}"))
        crm.subscribe([CRM_UPDATES])
        try:
            services.start("stream", name="intake")
            services.share_cores(len(tiers))
            for tier in tiers:
                services.start("worker", "--tier", tier, name=f"worker-{tier}")
            services.start("send", name="sender")
            services.start("sequences", name="sequences")
            campaign = publish_campaign(settings, load_campaign(BRIEF).model_copy(
                update={"campaign_id": "ledgerline-sequence", "steps": STEPS}))
            console.print(f"campaign {campaign.campaign_id} v{campaign.version}: 3 steps "
                          f"(delays 0, 2, 3 business days; 1 day = {day_s:g} s); "
                          f"mail -> {summary.mail_dir}")
            batch = [cast(Lead, leadgen.make_lead(random.Random(i), i, campaign.campaign_id,
                                                  id_prefix="SEQ"))
                     for i in range(leads)]
            producer = make_producer(settings)
            for lead in batch:
                producer.produce(LEADS, value=watcher.codec.encode("Lead", lead),
                                 key=lead["lead_id"])
            producer.flush(30)
            _follow(settings, services, watcher, crm, summary, started + timeout_s, console)
        finally:
            services.stop()
            watcher.close()
            crm.close()
    summary.wall_s = time.monotonic() - started
    console.print(summary.table())
    console.print(f"{summary.replied_lead} replied to step 2: steps after the reply: "
                  f"{summary.steps_after_reply}; finished: {dict(summary.finished)}; "
                  f"not written (held or dead-lettered): {sorted(summary.failed)}; "
                  f"{summary.wall_s:.0f} s")
    return summary


def _follow(settings: Settings, services: Services, watcher: OutcomeWatcher, crm: Consumer,
            summary: SequenceSummary, deadline: float, console: Console) -> None:
    """Read crm.updates until every sequence finished (or a step of it was held or
    dead-lettered); reply to the first second email as soon as it is sent."""
    codec = crm_codec()
    producer = make_producer(settings)
    replied, held_checked = False, 0.0
    seen: set[str] = set()  # by event id: a reader that rejoins its group reads again
    while len(set(summary.finished) | summary.failed) < summary.leads:
        if time.monotonic() > deadline:
            console.print("[red]timed out[/red]")
            summary.timed_out = True
            return
        services.check_alive()
        watcher.poll(0.2)
        if time.monotonic() - held_checked > 5:  # the approval queue, in Redis
            held_checked = time.monotonic()
            summary.failed = {letter["lead_id"] for letter in
                              watcher.outcomes.failed_requests.values() if letter["lead_id"]
                              } | held_leads(settings)
        for msg in crm.consume(100, timeout=0.5):
            if msg.error():
                continue
            update = codec.decode(msg.value(), "CrmUpdate")
            if update["event_id"] in seen:
                continue
            seen.add(update["event_id"])
            lead, step = update["lead_id"], int(update["step"])
            if update["type"] == "SENT":
                summary.sent_by_step[step] += 1
                console.print(f"  sent step {step} to {lead}")
                if lead == summary.replied_lead and step > 2 and replied:
                    summary.steps_after_reply += 1
                if step == 2 and not replied:
                    summary.replied_lead = lead
                    event: EngagementEvent = {
                        "event_id": f"demo-reply-{update['draft_id']}",
                        "draft_id": update["draft_id"], "type": "REPLIED",
                        "email": update["email"], "reply_text": REPLY, "url": None,
                        "source": "simulator", "occurred_at": int(time.time() * 1000)}
                    producer.produce(ENGAGEMENT, key=update["draft_id"],
                                     value=codec.encode("EngagementEvent", event))
                    producer.flush(10)
                    replied = True
                    console.print(f"  simulated reply from {lead} to step 2")
            elif update["type"] == "REPLIED":
                summary.replied_by_step[step] += 1
            elif update["type"] == "SEQUENCE_FINISHED":
                summary.finished[lead] = f"{update['reason']}@{step}"
                console.print(f"  sequence of {lead} finished at step {step}: "
                              f"{update['reason']}")
