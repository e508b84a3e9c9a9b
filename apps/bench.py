"""`outreach bench`: rows (a)-(c) from bench, plus what needs the whole system.

(d) the Kafka pipeline, leads topic -> drafts topic, with intake and a batched worker as child
processes on the embedded stack (timed after a warm-up lead, so group joins are not counted),
on the untrimmed model like (c); (td) the same with the served head cut, like (tc); and the
non-LLM intake rate (decode, validate, de-duplicate, suppress, route) in this process against
the stack's real Redis. The worker's engine profile (mean width, prefill share) is read from
its /metrics (workers/metrics.py ENGINE) before and after the timed window.
"""

from __future__ import annotations

import asyncio
import collections
import os
import statistics
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import cast

from prometheus_client.parser import text_string_to_metric_families

from rich.console import Console

from apps.campaigns import publish_as
from outreach import leadgen
from outreach.errors import OutreachError
from outreach.kafka import make_producer
from apps.pipeline import OutcomeWatcher, Services
from outreach.settings import Settings
from outreach.stack import embedded_stack, free_port
from outreach.store import IntakeStore
from outreach.topics import LEADS
from schemas.codec import AvroCodec
from schemas.records import Lead
from streams.intake import Intake, RawRecord
from bench import BENCH_CAMPAIGN, BenchReport, BenchRow, run_bench
from workers.metrics import ENGINE_PREFIX

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pids: list[int]) -> float:
    """utime + stime of running child processes, from /proc (Linux)."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


def engine_counters(port: int) -> dict[str, float]:
    """The worker engine's counters (EngineStats fields) from its /metrics; {} before its
    model is in."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply:
        text = reply.read().decode()
    return {sample.name.removeprefix(ENGINE_PREFIX).removesuffix("_total"): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples
            if sample.name.startswith(ENGINE_PREFIX) and sample.name.endswith("_total")}


def pipeline_row(settings: Settings, emails: int, concurrency: int, log_dir: Path,
                 trimmed: Path | None = None, adapter: bool = True) -> BenchRow:
    """(d), or with ``trimmed`` (td) served as a head cut: produce ``emails`` leads, time until
    every one has an outcome on the output topics. ``adapter`` False: the trim has the
    adapter folded in, so the worker loads none (as row tc)."""
    key = "td" if trimmed is not None else "d"
    model = {"batch_slots": concurrency, "trimmed_path": trimmed}
    if not adapter:
        model["lora_path"] = None
    port = free_port()
    # The row times drafts and dead letters on the output topics; a request held for a person
    # (the escalation ladder's review rung) would never arrive there, so the ladder is off here.
    settings = settings.model_copy(update={
        "model": settings.model.model_copy(update=model),
        "worker": settings.worker.model_copy(update={"metrics_port": port}),
        "escalation": settings.escalation.model_copy(update={"llm": False, "review": False})})
    campaign = f"bench-{time.time_ns()}"
    publish_as(settings, BENCH_CAMPAIGN, campaign)  # intake routes only published campaigns
    batch = leadgen.generate(emails + 1, seed=99, campaign=campaign,
                             malformed=0, duplicates=0, suppressed=0)
    for lead in batch.leads:  # one tier, so one worker takes every lead; ids unique per run
        lead.update(segment="smb", lead_score=50, priority="normal",
                    lead_id=f"{campaign}-{lead['lead_id']}")
    codec, producer = AvroCodec(), make_producer(settings)
    services, watcher = Services(settings, log_dir), OutcomeWatcher(settings)
    try:
        services.start("stream", name="intake")
        services.start("worker", "--tier", "small", name="worker-small")
        warm = batch.leads[0]
        producer.produce(LEADS, key=warm["lead_id"], value=codec.encode("Lead", cast(Lead, warm)))
        producer.flush(10)
        # The watcher reads the outcome topics from the start: an earlier round's outcomes
        # are there too, so only this batch's leads count.
        ours = {lead["lead_id"] for lead in batch.leads}
        while warm["lead_id"] not in watcher.outcomes.leads_with_outcome():
            services.check_alive()
            watcher.poll(0.2)
        pids = [p.pid for p in services.procs.values()]
        engine_before = engine_counters(port)
        cpu_start, started = _cpu_seconds(pids), time.perf_counter()
        for lead in batch.leads[1:]:
            producer.produce(LEADS, key=lead["lead_id"],
                             value=codec.encode("Lead", cast(Lead, lead)))
        producer.flush(10)
        while len(watcher.outcomes.leads_with_outcome() & ours) < emails + 1:
            services.check_alive()
            watcher.poll(0.2)
        wall, cpu = time.perf_counter() - started, _cpu_seconds(pids) - cpu_start
        engine = {k: v - engine_before.get(k, 0.0) for k, v in engine_counters(port).items()}
    finally:
        services.stop()
        watcher.close()
    drafts = [d for d in watcher.outcomes.drafts.values()
              if d["lead_id"] in ours and d["lead_id"] != warm["lead_id"]]
    label = "Kafka pipeline (leads -> drafts), BatchEngine worker" + (
        ", head cut" if trimmed is not None else "")
    return BenchRow(
        key=key, label=label, emails=emails, details=engine,
        wall_seconds=wall, cpu_seconds=cpu,
        prompt_tokens=sum(d["prompt_tokens"] for d in drafts),
        completion_tokens=sum(d["completion_tokens"] for d in drafts),
        latencies=[d["lead_to_draft_ms"] / 1000 for d in drafts], concurrency=concurrency,
        notes=f"{len(drafts)} drafts, {emails - len(drafts)} dead-lettered after the retry; "
              "latency is lead read by intake -> draft produced")


async def _intake_rate(settings: Settings, leads: int, batch: int) -> tuple[float, float]:
    """Leads/s through Intake one record at a time, and in batches of ``batch`` (what the
    Faust agent does with the records that arrived together)."""
    codec = AvroCodec()

    def fresh_leads() -> list[bytes]:  # a campaign of its own: every lead new, none dropped
        campaign = publish_as(settings, BENCH_CAMPAIGN, f"rate-{time.time_ns()}").campaign_id
        # outreach.leadgen (the foundation) builds leads without naming their schema.
        return [codec.encode("Lead", cast(Lead, lead)) for lead in
                leadgen.generate(leads, seed=5, campaign=campaign, malformed=0,
                                 duplicates=0, suppressed=0).leads]

    store = IntakeStore(settings)
    intake = Intake(settings, store, codec)
    try:
        raw = fresh_leads()
        started = time.perf_counter()
        decisions = [await intake.decide(value, None, LEADS, 0, offset)
                     for offset, value in enumerate(raw)]
        one_at_a_time = leads / (time.perf_counter() - started)
        raw = fresh_leads()
        started = time.perf_counter()
        for start in range(0, leads, batch):
            decisions += await intake.decide_many([
                RawRecord(value, None, LEADS, 0, start + i)
                for i, value in enumerate(raw[start:start + batch])])
        batched = leads / (time.perf_counter() - started)
    finally:
        intake.close()
        await store.close()
    outcomes = collections.Counter(d.outcome for d in decisions)
    if outcomes["routed"] != 2 * leads:  # a rate of drops would flatter intake
        raise OutreachError(f"intake rate: expected {2 * leads} routed leads, got {outcomes}")
    return one_at_a_time, batched


def trimmed_model(settings: Settings, n_merges: int, out_dir: Path, console: Console,
                  fold: bool = False) -> Path:
    """The served model with its vocabulary trimmed to ``n_merges`` (quantize/trim/step.py),
    and with ``fold`` its adapter folded in (quantize/fold_lora.py), made once under
    ``out_dir``/trimmed and reused while its manifest names the same source."""
    from quantize import manifest
    from quantize.fold_lora import fold as fold_adapter, folded_name
    from quantize.trim.step import release_trim, trimmed_name
    from generation.model import resolve_model

    model = resolve_model(settings)
    path = out_dir / "trimmed" / trimmed_name(model.path, n_merges)
    if not (path.is_file() and manifest.read(path).get("inputs", {}).get("source", {}).get(
            "sha256") == model.sha256):
        path.unlink(missing_ok=True)
        with console.status(f"trimming {model.path.name} to {n_merges} merges..."):
            release_trim(settings, model.path, path, n_merges, adapter=model.lora_path)
    if not fold or model.lora_path is None:
        return path
    folded = path.with_name(folded_name(path, model.lora_path))
    if not (folded.is_file() and manifest.read(folded).get("inputs", {}).get(
            "adapter", {}).get("sha256") == model.lora_sha256):
        folded.unlink(missing_ok=True)
        with console.status(f"folding {model.lora_path.name} into {path.name}..."):
            fold_adapter(path, model.lora_path, folded)
    return folded


def run_full_bench(settings: Settings, emails: int, concurrency: int, out_dir: Path,
                   baseline_emails: int | None, rows: tuple[str, ...], console: Console,
                   rounds: int = 1, trimmed: Path | None = None) -> BenchReport:
    """Rows (a)-(c) from bench and (d) from here, interleaved in ``rounds``, plus the
    intake rate, all against one embedded stack (idle while rows a-c run: its broker and
    redis-server used under 1% of a core, measured by the report's other-load figure)."""
    from quantize.fold_lora import is_folded

    fresh = settings.model_copy(update={"kafka_bootstrap_servers": None, "redis_url": None})
    with tempfile.TemporaryDirectory(prefix="outreach-bench-") as tmp, \
            embedded_stack(fresh, Path(tmp) / "stack") as stack:
        bound = settings.with_connections(stack.bootstrap_servers, stack.redis_url)
        sequential, batched = asyncio.run(_intake_rate(bound, 5000, settings.kafka.intake_batch))
        rounds_done = [0]
        folded = trimmed is not None and is_folded(trimmed)

        def pipeline(n: int, head_cut: Path | None = None) -> BenchRow:
            rounds_done[0] += 1
            row = pipeline_row(bound, n, concurrency, Path(tmp) / f"logs-{rounds_done[0]}",
                               head_cut, adapter=not folded)
            p95 = statistics.quantiles(row.latencies, n=20)[-1] if len(row.latencies) > 1 else 0
            console.print(f"({row.key}) {row.emails} emails in {row.wall_seconds:.0f} s, "
                          f"p95 {p95:.0f} s")
            return row

        extra: dict[str, Callable[[int], BenchRow]] = {"d": pipeline}
        if trimmed is not None:  # (td): the pipeline as served, beside (tc)
            extra["td"] = lambda n: pipeline(n, trimmed)
        report = run_bench(settings, emails, concurrency, out_dir, rows=rows,
                           baseline_emails=baseline_emails, rounds=rounds,
                           extra_rows=extra, console=console, trimmed=trimmed,
                           trimmed_folded=folded)
    report.add_metric("intake_leads_per_s", sequential, "leads/s",
                      "decode+validate+dedupe+suppress+route, one lead at a time, real Redis")
    report.add_metric("intake_leads_per_s_batched", batched, "leads/s",
                      f"the same in batches of {settings.kafka.intake_batch}, one Redis round "
                      "trip each, as the Faust agent runs it")
    report.write(out_dir)
    return report
