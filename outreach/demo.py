"""`outreach demo`: the whole pipeline on the embedded stack, with a summary at the end."""

from __future__ import annotations

import shutil
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from outreach import leadgen
from outreach.kafka import make_producer
from outreach.feedback_demo import FeedbackSummary, extend_demo, wait_for_feedback
from outreach.mail.smtp_sink import smtp_sink
from outreach.pipeline import OutcomeWatcher, Services
from outreach.settings import Settings
from outreach.stack import embedded_stack
from outreach.store import SyncStore
from outreach.topics import LEADS, LEADS_JSON
from schemas.codec import AvroCodec


@dataclass
class Summary:
    leads_in: int = 0
    expected_outcomes: int = 0
    drafts_out: int = 0
    generation_dead_letters: int = 0
    intake_dead_letters: int = 0
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

    @property
    def ok(self) -> bool:
        return self.missing == 0 and self.emails_written == self.drafts_out

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
            ("dead-lettered at intake (malformed)", self.intake_dead_letters),
            ("dead-lettered at generation (failed checks twice)", self.generation_dead_letters),
            ("duplicates dropped", self.duplicates_dropped),
            ("suppressed", self.suppressed),
            ("leads without an outcome", self.missing),
            ("lead-to-draft latency p50 / p95", f"{self.percentile(50) / 1000:.1f} s / "
                                                f"{self.percentile(95) / 1000:.1f} s"),
            ("generated tokens/s (all workers, first lead to last draft)", f"{tok_s:.1f}"),
            (".eml files written", f"{self.emails_written} in {self.mail_dir}"),
            ("wall time", f"{self.wall_s:.0f} s"),
        ]
        for name, value in rows:
            table.add_row(name, str(value))
        return table


def produce_leads(settings: Settings, batch: leadgen.LeadBatch, codec: AvroCodec) -> int:
    """Half the valid leads as Avro on `leads`, half as JSON on `leads.json`, like mixed CRMs."""
    producer = make_producer(settings)
    records = 0
    for index, lead in enumerate(batch.leads + batch.duplicates):
        if index % 2:
            producer.produce(LEADS_JSON, key=lead["lead_id"], value=leadgen.to_json(lead))
        else:
            producer.produce(LEADS, key=lead["lead_id"], value=codec.encode("Lead", lead, LEADS))
        records += 1
    for raw in batch.malformed:
        producer.produce(LEADS_JSON, value=raw)
        records += 1
    producer.flush(30)
    return records


def run_demo(settings: Settings, console: Console | None = None, timeout_s: float = 900,
             feedback: bool = False, serve: bool = False) -> Summary:
    """Run the demo; ``feedback`` adds the engagement loop (simulator, KPIs, A/B, dashboard),
    ``serve`` keeps every service (and the dashboard) running after the summary until Ctrl-C."""
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
        console.print(f"embedded stack: Kafka {stack.bootstrap_servers}, Redis {stack.redis_url}; "
                      f"SMTP sink {sink.host}:{sink.port} -> {mail_dir}")
        store = SyncStore(settings)
        store.suppress(*batch.suppressed_emails)
        services = Services(settings, out_dir / "logs", extra_env={
            "OUTREACH_SENDER__SMTP_HOST": sink.host, "OUTREACH_SENDER__SMTP_PORT": str(sink.port)})
        watcher = OutcomeWatcher(settings)
        try:
            services.start("stream", name="intake")
            services.share_cores(len(tiers))
            for tier in tiers:
                services.start("worker", "--tier", tier, name=f"worker-{tier}")
            services.start("send", name="sender")
            dashboard_url = extend_demo(services, settings) if feedback else ""
            codec = AvroCodec(registry_url=settings.kafka.schema_registry_url)
            summary.leads_in = produce_leads(settings, batch, codec)
            summary.expected_outcomes = len(batch.leads) - len(batch.suppressed_emails)
            _wait_for_outcomes(services, watcher, summary, sink.folder, console, started + timeout_s)
            if feedback:
                console.print(f"waiting for simulated engagement; dashboard: {dashboard_url}")
                summary.feedback = wait_for_feedback(settings, summary.drafts_out,
                                                     time.monotonic() + 180, dashboard_url,
                                                     services)
            summary.wall_s = time.monotonic() - started
            stats = store.stats()
            summary.duplicates_dropped = stats.get("duplicate", 0)
            summary.suppressed = stats.get("suppressed", 0) + stats.get("suppressed_at_send", 0)
            console.print(summary.table())
            if summary.feedback is not None:
                console.print(summary.feedback.table())
            if serve:
                console.print("services keep running (dashboard above); Ctrl-C stops them")
                _wait_for_interrupt()
        finally:
            services.stop()
            watcher.close()
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
            done = len(outcomes.leads_with_outcome())
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
    summary.missing = summary.expected_outcomes - len(outcomes.leads_with_outcome())
    summary.latencies_ms = sorted(d["lead_to_draft_ms"] for d in outcomes.drafts.values())
    summary.completion_tokens = sum(d["completion_tokens"] for d in outcomes.drafts.values())
    # Workers decode many drafts at once, so per-draft latencies overlap: throughput is all
    # generated tokens over the span from the first lead read to the last draft written.
    drafts = list(outcomes.drafts.values())
    if drafts:
        first_read = min(d["created_at"] - d["lead_to_draft_ms"] for d in drafts)
        summary.generation_seconds = (max(d["created_at"] for d in drafts) - first_read) / 1000
