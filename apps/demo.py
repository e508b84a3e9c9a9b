"""`outreach demo`: the whole pipeline on the embedded stack, with a summary at the end."""

from __future__ import annotations

import collections
import shutil
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from apps.campaigns import add_campaign
from outreach import leadgen
from outreach.kafka import make_producer
from apps.feedback_demo import FeedbackSummary, extend_demo, wait_for_feedback
from apps.llm_arm import LLMArm, held_leads, rung_table, start_approvals
from apps.one_click import OneClickResult, click_one, with_demo_one_click
from mail.smtp_sink import smtp_sink
from apps.pipeline import OutcomeWatcher, Services
from outreach.settings import Settings
from outreach.stack import embedded_stack
from outreach.store import SyncStore
from outreach.topics import LEADS, LEADS_JSON
from schemas.campaign import Campaign
from schemas.codec import AvroCodec
from schemas.records import Lead

# Two campaigns for two different products, published before any lead (campaigns/examples).
DEMO_CAMPAIGNS = tuple(Path(__file__).resolve().parents[1] / "campaigns" / "examples" / name
                       for name in ("ledgerline-ap.yaml", "patchwell-security.yaml"))
UNKNOWN_CAMPAIGN = "no-such-campaign"  # one lead names it: intake dead-letters it, counted


@dataclass
class Summary:
    leads_in: int = 0
    expected_outcomes: int = 0
    drafts_out: int = 0
    generation_dead_letters: int = 0
    intake_dead_letters: int = 0
    unknown_campaign_letters: int = 0
    campaigns: list[Campaign] = field(default_factory=list)
    drafts_by_campaign: dict[str, int] = field(default_factory=dict)
    duplicates_dropped: int = 0
    suppressed: int = 0
    emails_written: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    completion_tokens: int = 0
    generation_seconds: float = 0.0
    mail_dir: Path | None = None
    wall_s: float = 0.0
    missing: int = 0
    feedback: FeedbackSummary | None = None
    one_click: OneClickResult | None = None

    @property
    def ok(self) -> bool:
        one_click_ok = self.one_click is not None and self.one_click.suppressed_after_s is not None
        return self.missing == 0 and self.emails_written == self.drafts_out and one_click_ok

    def percentile(self, q: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        if len(self.latencies_ms) == 1:
            return self.latencies_ms[0]
        return statistics.quantiles(self.latencies_ms, n=100, method="inclusive")[int(q) - 1]

    def table(self) -> Table:
        table = Table(title="outreach demo summary", show_header=False)
        tok_s = self.completion_tokens / self.generation_seconds if self.generation_seconds else 0
        rows = [
            ("leads in (records produced)", self.leads_in),
            ("drafts out", self.drafts_out),
            *((f"drafts for {c.campaign_id} v{c.version} ({c.product}, signed "
               f"{c.sender.name})", self.drafts_by_campaign.get(c.campaign_id, 0))
              for c in self.campaigns),
            ("dead-lettered at intake (malformed)",
             self.intake_dead_letters - self.unknown_campaign_letters),
            ("dead-lettered at intake (unknown campaign)", self.unknown_campaign_letters),
            ("dead-lettered at generation (failed every attempt)", self.generation_dead_letters),
            ("duplicates dropped", self.duplicates_dropped),
            ("suppressed", self.suppressed),
            ("leads without an outcome", self.missing),
            ("lead-to-draft latency p50 / p95", f"{self.percentile(50) / 1000:.1f} s / "
                                                f"{self.percentile(95) / 1000:.1f} s"),
            ("generated tokens/s (all workers, first lead to last draft)", f"{tok_s:.1f}"),
            (".eml files written", f"{self.emails_written} in {self.mail_dir}"),
            ("one-click unsubscribe (RFC 8058 POST, first .eml)",
             self.one_click.describe() if self.one_click else "no message carried a link"),
            ("wall time", f"{self.wall_s:.0f} s"),
        ]
        for name, value in rows:
            table.add_row(name, str(value))
        return table


# The sending engine paces real mail (40 a day per mailbox, 5 minutes apart, in the recipient's
# business hours), which would hold a one-minute demo's drafts for days: the demo's sender
# sends at any hour, with no gap and a cap no demo reaches. Each campaign's own sender address
# is still its mailbox, and every other step of the engine runs (docs/sending.md#the-demo).
DEMO_SENDING_ENV = {"OUTREACH_SENDING__HOURS__ANYTIME": "true",
                    "OUTREACH_SENDING__DEFAULT_MAILBOX__MIN_GAP_S": "0",
                    "OUTREACH_SENDING__DEFAULT_MAILBOX__DAILY_CAP": "10000",
                    "OUTREACH_SENDING__MIN_STEP_GAP_H": "0",  # steps still go out in order
                    "OUTREACH_SENDING__TICK_S": "0.2"}


def split_campaigns(batch: leadgen.LeadBatch, campaign_ids: list[str]) -> None:
    """Deal the batch's leads round-robin to ``campaign_ids`` (duplicates follow their
    original) and add one lead for a campaign nobody published."""
    by_lead = {}
    for index, lead in enumerate(batch.leads):
        lead["campaign"] = by_lead[lead["lead_id"]] = campaign_ids[index % len(campaign_ids)]
    for duplicate in batch.duplicates:
        duplicate["campaign"] = by_lead[duplicate["lead_id"]]
    stray = dict(batch.leads[0], lead_id="L-UNKNOWN-CAMPAIGN", campaign=UNKNOWN_CAMPAIGN,
                 email="stray.lead@unknown-campaign.example")
    batch.leads.append(stray)


def produce_leads(settings: Settings, batch: leadgen.LeadBatch, codec: AvroCodec) -> int:
    """Half the valid leads as Avro on `leads`, half as JSON on `leads.json`, like mixed CRMs."""
    producer = make_producer(settings)
    records = 0
    for index, lead in enumerate(batch.leads + batch.duplicates):
        if index % 2:
            producer.produce(LEADS_JSON, key=lead["lead_id"], value=leadgen.to_json(lead))
        else:
            # outreach.leadgen (the foundation) builds leads without naming their schema.
            producer.produce(LEADS, key=lead["lead_id"],
                             value=codec.encode("Lead", cast(Lead, lead), LEADS))
        records += 1
    for raw in batch.malformed:
        producer.produce(LEADS_JSON, value=raw)
        records += 1
    producer.flush(30)
    return records


def run_demo(settings: Settings, console: Console | None = None, timeout_s: float = 900,
             feedback: bool = False, serve: bool = False, llm_url: str | None = None,
             on_done: Callable[[Settings, Summary], None] | None = None) -> Summary:
    """Run the demo; ``feedback`` adds the engagement loop (simulator, KPIs, A/B, dashboard),
    ``serve`` keeps every service (and the dashboard) running after the summary until Ctrl-C.
    ``on_done`` is called with the running stack's settings after the summary (tests)."""
    console = console or Console(stderr=True)
    out_dir = Path(settings.demo.out_dir).resolve()
    mail_dir = out_dir / "mail"
    if mail_dir.exists():
        shutil.rmtree(mail_dir)  # one run's .eml files per folder; logs are appended
    started = time.monotonic()
    summary = Summary(mail_dir=mail_dir)
    batch = leadgen.generate(settings.demo.leads, seed=settings.demo.seed)
    tiers = sorted({rule.tier for rule in settings.routing.rules} - {"llm"})
    with embedded_stack(settings, out_dir / "stack") as stack, smtp_sink(mail_dir) as sink:
        settings = settings.with_connections(stack.bootstrap_servers, stack.redis_url)
        settings = with_demo_one_click(settings)  # links to this run's dashboard on loopback
        # --feedback runs the paper's A/B: miniature champion vs a baseline-LLM arm.
        arm = LLMArm(settings, llm_url, out_dir / "logs") if feedback else None
        if arm is not None:
            settings = arm.settings
            console.print(arm.describe())
        console.print(f"embedded stack: Kafka {stack.bootstrap_servers}, Redis {stack.redis_url}; "
                      f"SMTP sink {sink.host}:{sink.port} -> {mail_dir}")
        # A second shell (outreach campaign list, outreach leads) finds this stack by these two
        # variables: one line to copy, soft_wrap so a narrow terminal does not break it.
        console.print(f"in another shell: export KAFKA_BOOTSTRAP_SERVERS="
                      f"{stack.bootstrap_servers} REDIS_URL={stack.redis_url}",
                      soft_wrap=True, highlight=False)
        store = SyncStore(settings)
        store.suppress(*batch.suppressed_emails)
        services = Services(settings, out_dir / "logs", extra_env={
            "OUTREACH_SENDER__SMTP_HOST": sink.host, "OUTREACH_SENDER__SMTP_PORT": str(sink.port),
            **DEMO_SENDING_ENV})
        watcher = OutcomeWatcher(settings)
        try:
            services.start("stream", name="intake")
            services.share_cores(len(tiers))
            for tier in tiers:
                services.start("worker", "--tier", tier, name=f"worker-{tier}")
            if settings.llm.base_url:  # the LLM arm and the ladder's second rung
                services.start("worker", "--tier", "llm", name="worker-llm")
            if arm is not None:
                console.print("approval queue: " + start_approvals(services, out_dir))
            services.start("send", name="sender")
            dashboard_url = extend_demo(services, settings, simulator=feedback)
            codec = AvroCodec(registry_url=settings.kafka.schema_registry_url)
            summary.campaigns = [add_campaign(settings, path) for path in DEMO_CAMPAIGNS]
            console.print("campaigns published: " + ", ".join(
                f"{c.campaign_id} v{c.version} ({c.product})" for c in summary.campaigns))
            split_campaigns(batch, [c.campaign_id for c in summary.campaigns])
            summary.leads_in = produce_leads(settings, batch, codec)
            # Leads that end in a draft or a failed request: not the suppressed ones, and not the
            # one whose campaign is unknown (an intake dead letter, counted apart).
            summary.expected_outcomes = len(batch.leads) - len(batch.suppressed_emails) - 1
            _wait_for_outcomes(services, watcher, summary, sink.folder, console, started + timeout_s)
            if feedback:
                console.print(f"waiting for simulated engagement; dashboard: {dashboard_url}")
                summary.feedback = wait_for_feedback(settings, summary.drafts_out,
                                                     time.monotonic() + 180, dashboard_url,
                                                     services)
            summary.one_click = click_one(mail_dir, store,  # a self-test: never a KPI
                                          key_prefix=settings.redis.key_prefix)
            summary.wall_s = time.monotonic() - started
            stats = store.stats()
            summary.duplicates_dropped = stats.get("duplicate", 0)
            summary.suppressed = stats.get("suppressed", 0) + stats.get("suppressed_at_send", 0)
            console.print(summary.table())
            if summary.feedback is not None:
                console.print(summary.feedback.table())
            console.print(rung_table(settings, list(watcher.outcomes.drafts.values())))
            if on_done is not None:
                on_done(settings, summary)
            if serve:
                console.print("services keep running (dashboard above); Ctrl-C stops them")
                _wait_for_interrupt()
        finally:
            services.stop()
            watcher.close()
            if arm is not None:
                arm.close()
        store.close()
    return summary


def _wait_for_interrupt() -> None:
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass


def _wait_for_outcomes(services: Services, watcher: OutcomeWatcher, summary: Summary,
                       mail_dir: Path, console: Console, deadline: float) -> None:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        leads_task = progress.add_task("leads with an outcome", total=summary.expected_outcomes)
        mail_task = progress.add_task(".eml files written", total=None)
        while time.monotonic() < deadline:
            services.check_alive()
            watcher.poll(0.5)
            outcomes = watcher.outcomes
            done = len(outcomes.leads_with_outcome() | held_leads(services.settings))
            summary.emails_written = len(list(mail_dir.glob("*.eml")))
            progress.update(leads_task, completed=done)
            progress.update(mail_task, completed=summary.emails_written,
                            total=len(outcomes.drafts))
            if done >= summary.expected_outcomes and summary.emails_written >= len(outcomes.drafts):
                break
    outcomes = watcher.outcomes
    summary.drafts_out = len(outcomes.drafts)
    summary.generation_dead_letters = len(outcomes.failed_requests)
    summary.intake_dead_letters = len(outcomes.intake_dead_letters)
    summary.unknown_campaign_letters = sum(
        1 for letter in outcomes.intake_dead_letters if letter["error_type"] == "unknown_campaign")
    summary.drafts_by_campaign = dict(collections.Counter(
        d["campaign"] for d in outcomes.drafts.values()))
    summary.missing = summary.expected_outcomes - len(outcomes.leads_with_outcome()
                                                      | held_leads(services.settings))
    summary.latencies_ms = sorted(d["lead_to_draft_ms"] for d in outcomes.drafts.values())
    summary.completion_tokens = sum(d["completion_tokens"] for d in outcomes.drafts.values())
    # Workers decode many drafts at once, so per-draft latencies overlap: throughput is all
    # generated tokens over the span from the first lead read to the last draft written.
    drafts = list(outcomes.drafts.values())
    if drafts:
        first_read = min(d["created_at"] - d["lead_to_draft_ms"] for d in drafts)
        summary.generation_seconds = (max(d["created_at"] for d in drafts) - first_read) / 1000
