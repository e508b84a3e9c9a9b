"""`outreach chaos`: the fault and abuse suite, on a private embedded stack, with figures.

Phases (each on the real broker, Redis, intake process, sender process and SMTP sink):
1. fuzz    - N fuzzed records (apps/fuzz.py) on `leads` and `leads.json`, then one valid lead on
             each: every fuzzed record must land in dlq.* with a reason, intake must never exit,
             and the valid leads behind them must still be routed.
(--hostile) hostile - the hostile set (apps/hostile_set.py, 286 leads, every field) through
             intake and a real generation worker (the served model), the worker SIGKILLed once
             mid-run (apps/chaos_hostile.py): every lead one outcome, 0 remnants of the hostile
             text in drafts that can be sent (sent or held for a person).
(--rebalance) rebalance - two generation workers in one group, a third joining and one
             SIGKILLed mid-run (apps/chaos_rebalance.py): every request one draft, 0 lost,
             0 duplicates.
2. intake  - L valid leads produced in waves while intake is SIGKILLed at random moments and
             Redis is stopped for ``redis_down_s`` and restarted: every lead must get a request
             (0 lost); redelivered requests are counted (same request_id: harmless).
3. sender  - L drafts on email.drafts while the sender is SIGKILLed at random moments and Redis
             is stopped and restarted: every draft must be sent (0 lost), duplicate sends are
             counted from the sink (one .eml per delivery).
The generation worker's SIGKILL behaviour on clean leads is measured by
tests/workers/test_worker_sigkill.py (real model); forged/replayed webhooks by their own tests.
"""

from __future__ import annotations

import contextlib
import random
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from apps.fuzz import fuzz_records
from apps.pipeline import Services
from outreach.kafka import consumer_config, make_producer
from outreach.leadgen import generate, to_json
from outreach.settings import Settings
from outreach.stack import embedded_stack
from outreach.topics import DRAFTS, LEADS, LEADS_JSON, TIERS, dlq, requests_topic
from schemas.codec import AvroCodec

EXAMPLE_CAMPAIGN = Path(__file__).resolve().parents[1] / "campaigns/examples/ledgerline-ap.yaml"


@dataclass
class ChaosReport:
    fuzz_records: int = 0
    fuzz_dead_lettered: int = 0
    fuzz_without_reason: int = 0
    fuzz_valid_after_routed: int = 0
    intake_crashes: int = 0
    intake_leads: int = 0
    intake_routed: int = 0
    intake_lost: int = 0
    intake_redelivered: int = 0
    intake_kills: int = 0
    sender_drafts: int = 0
    sender_sent: int = 0
    sender_lost: int = 0
    sender_duplicate_sends: int = 0
    sender_kills: int = 0
    redis_outages: int = 0
    hostile: dict[str, Any] = field(default_factory=dict)  # HostileFigures, when run
    rebalance: dict[str, Any] = field(default_factory=dict)  # RebalanceFigures, when run
    seconds: dict[str, float] = field(default_factory=dict)

    def markdown(self) -> str:
        rows = [
            ("fuzzed records on leads + leads.json", self.fuzz_records),
            ("  dead-lettered with a reason", self.fuzz_dead_lettered - self.fuzz_without_reason),
            ("  intake crashes (exits)", self.intake_crashes),
            ("  valid leads after them routed", f"{self.fuzz_valid_after_routed}/2"),
            (f"valid leads, intake SIGKILLed x{self.intake_kills}", self.intake_leads),
            ("  routed (a request)", self.intake_routed),
            ("  lost", self.intake_lost),
            ("  redelivered requests (same request_id)", self.intake_redelivered),
            (f"drafts, sender SIGKILLed x{self.sender_kills}", self.sender_drafts),
            ("  sent", self.sender_sent),
            ("  lost", self.sender_lost),
            ("  duplicate sends", self.sender_duplicate_sends),
            ("Redis stopped and restarted (once per fault phase)", self.redis_outages),
        ]
        if self.hostile:
            from apps.chaos_hostile import report_rows as hostile_rows

            rows += hostile_rows(self.hostile)
        if self.rebalance:
            from apps.chaos_rebalance import report_rows

            rows += report_rows(self.rebalance)
        lines = ["| Fault run | Count |", "|---|---:|"]
        lines += [f"| {name} | {value} |" for name, value in rows]
        return "\n".join(lines)


class TopicCounter:
    """Reads topics from the beginning (assign, no group) and keeps what it decoded."""

    def __init__(self, settings: Settings, topics: list[str]) -> None:
        self.consumer = Consumer(consumer_config(settings, f"chaos-{uuid.uuid4().hex[:8]}"))
        meta = self.consumer.list_topics(timeout=10)
        self.consumer.assign([TopicPartition(t, p, 0) for t in topics
                              for p in meta.topics[t].partitions])
        self.records: list[Any] = []

    def poll(self, seconds: float = 0.5) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            batch = self.consumer.consume(1000, timeout=0.2)
            self.records += [m for m in batch if not m.error()]
            if not batch:
                break

    def close(self) -> None:
        self.consumer.close()


class RedisControl:
    """Stop the stack's redis-server and start it again on the same port (data is lost, as
    after a crash without persistence: the suite must not depend on it)."""

    def __init__(self, url: str, workdir: Path, proc: subprocess.Popen | None) -> None:
        self.port = url.rsplit(":", 1)[1].split("/")[0]
        self.workdir, self.proc = workdir, proc

    def outage(self, seconds: float) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        time.sleep(seconds)
        self.proc = subprocess.Popen(
            ["redis-server", "--port", self.port, "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def _wait(predicate, timeout_s: float, step: callable) -> bool:  # type: ignore[valid-type]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        step()
        if predicate():
            return True
    return False


def _restart(services: Services, name: str, command: str, report: ChaosReport) -> None:
    proc = services.procs.get(name)
    if proc is not None and proc.poll() is not None:
        report.intake_crashes += name == "intake"  # exited on its own: a crash
        services.procs.pop(name)
    if name not in services.procs:
        services.start(command, name=name)


def run_chaos(settings: Settings, out: Path, leads: int = 1000, fuzz: int = 10_000,
              kills: int = 2, redis_down_s: float = 10.0, seed: int = 7,
              timeout_s: float = 900.0, say=print,  # noqa: ANN001
              hostile: bool = False, rebalance: bool = False,
              hostile_timeout_s: float | None = None) -> ChaosReport:
    from apps.campaigns import add_campaign
    from mail.smtp_sink import smtp_sink

    rng, report, codec = random.Random(seed), ChaosReport(), AvroCodec()
    out.mkdir(parents=True, exist_ok=True)
    base = settings.model_copy(update={"kafka_bootstrap_servers": None, "redis_url": None})
    with embedded_stack(base, out / "stack") as stack, smtp_sink(out / "mail") as sink:
        run = sink.configure(base.with_connections(stack.bootstrap_servers, stack.redis_url))
        redis_proc = next((p for p in stack.processes if "redis" in str(p.args[0])), None)
        redis = RedisControl(stack.redis_url, out / "stack", redis_proc)
        brief = add_campaign(run, EXAMPLE_CAMPAIGN)
        campaign = brief.campaign_id
        # The sender phase measures at-least-once under kills and a Redis restart: the reference
        # sender, which keeps every draft in Kafka until sent. The engine keeps its schedule in
        # Redis, and this Redis restarts empty (no persistence): docs/sending.md.
        services = Services(run, out / "logs", extra_env={"OUTREACH_SENDING__UNPACED": "true"})
        producer = make_producer(run)
        try:
            started = time.monotonic()
            _fuzz_phase(run, services, producer, codec, campaign, fuzz, seed, report, say,
                        timeout_s)
            report.seconds["fuzz"] = round(time.monotonic() - started, 1)
            if hostile:  # loads the default model: minutes on 2 cores
                from apps.chaos_hostile import as_dict, hostile_phase

                # Before the intake phase: its 1,000 requests would otherwise queue ahead of
                # the hostile leads on the worker's partitions (~30 min of drafting on 2 cores).
                started = time.monotonic()
                report.hostile = as_dict(hostile_phase(run, services, producer, brief,
                                                       kills > 0, say, timeout_s,
                                                       out / "hostile-outcomes.json",
                                                       hostile_timeout_s))
                report.seconds["hostile"] = round(time.monotonic() - started, 1)
            if rebalance:  # loads the default model three times: minutes on 2 cores
                from apps.chaos_rebalance import rebalance_phase

                started = time.monotonic()
                rebalance_phase(run, out, campaign, seed, report, say, timeout_s)
                report.seconds["rebalance"] = round(time.monotonic() - started, 1)
            started = time.monotonic()
            _intake_phase(run, services, producer, codec, campaign, leads, kills, redis,
                          redis_down_s, rng, report, say, timeout_s)
            report.seconds["intake"] = round(time.monotonic() - started, 1)
            started = time.monotonic()
            _sender_phase(run, services, producer, codec, campaign, leads, kills, redis,
                          redis_down_s, rng, sink, report, say, timeout_s)
            report.seconds["sender"] = round(time.monotonic() - started, 1)
        finally:
            services.stop()
            redis.stop()
    return report


def _fuzz_phase(run, services, producer, codec, campaign, count, seed, report, say, timeout_s):
    records = list(fuzz_records(count, seed=seed, campaign=campaign))
    report.fuzz_records = len(records)
    for record in records:
        producer.produce(record.topic, value=record.value)
        producer.poll(0)
    valid = generate(2, seed=seed + 1, campaign=campaign, suppressed=0).leads
    valid = [dict(lead, lead_id=f"after-fuzz-{i}") for i, lead in enumerate(valid)]
    producer.produce(LEADS_JSON, key=valid[0]["lead_id"], value=to_json(valid[0]))
    producer.produce(LEADS, key=valid[1]["lead_id"], value=codec.encode("Lead", valid[1]))
    producer.flush(30)
    say(f"fuzz: {len(records)} records produced; intake started")
    services.start("stream", name="intake")
    letters = TopicCounter(run, [dlq(LEADS), dlq(LEADS_JSON)])
    routed = TopicCounter(run, [requests_topic(t) for t in TIERS])
    try:
        def done() -> bool:
            lead_ids = {codec.decode(m.value(), "GenerationRequest")["lead"]["lead_id"]
                        for m in routed.records}
            return len(letters.records) >= len(records) and all(
                v["lead_id"] in lead_ids for v in valid)

        def step() -> None:
            letters.poll(1.0)
            routed.poll(0.2)
            _restart(services, "intake", "stream", report)

        _wait(done, timeout_s, step)
        decoded = [codec.decode(m.value(), "DeadLetter") for m in letters.records]
        report.fuzz_dead_lettered = len(decoded)
        report.fuzz_without_reason = sum(1 for d in decoded if not d["error"] or not d["error_type"])
        lead_ids = {codec.decode(m.value(), "GenerationRequest")["lead"]["lead_id"]
                    for m in routed.records}
        report.fuzz_valid_after_routed = sum(v["lead_id"] in lead_ids for v in valid)
        say(f"fuzz: {report.fuzz_dead_lettered} dead letters, reasons "
            f"{Counter(d['error_type'] for d in decoded).most_common(6)}")
    finally:
        letters.close()
        routed.close()


def _faults(services, names_commands, kills, redis, redis_down_s, rng, report, duration_s, what):
    """In a thread: SIGKILL each service ``kills`` times and stop Redis once, at random moments
    within ``duration_s``; restarts the killed services."""
    moments = sorted([(rng.uniform(0.1, 0.9) * duration_s, "kill", n) for n in names_commands
                      for _ in range(kills)] + [(rng.uniform(0.2, 0.6) * duration_s, "redis", "")])

    def act() -> None:
        start = time.monotonic()
        for at, kind, name in moments:
            time.sleep(max(0.0, at - (time.monotonic() - start)))
            if kind == "redis":
                redis.outage(redis_down_s)
                report.redis_outages += 1
            elif name in services.procs:
                services.kill(name)
                setattr(report, what, getattr(report, what) + 1)
                services.start(names_commands[name], name=name)

    thread = threading.Thread(target=act, name="chaos", daemon=True)
    thread.start()
    return thread


def _intake_phase(run, services, producer, codec, campaign, count, kills, redis, redis_down_s,
                  rng, report, say, timeout_s):
    batch = generate(count, seed=rng.randrange(10**6), campaign=campaign, suppressed=0,
                     duplicates=0, malformed=0).leads
    batch = [dict(lead, lead_id=f"chaos-{i:05d}") for i, lead in enumerate(batch)]
    report.intake_leads = len(batch)
    if "intake" not in services.procs:  # stopped by the hostile phase
        services.start("stream", name="intake")
    waves, duration = 20, max(20.0, 3 * redis_down_s)
    faults = _faults(services, {"intake": "stream"}, kills, redis, redis_down_s, rng, report,
                     duration, "intake_kills")
    for wave in range(waves):
        for lead in batch[wave::waves]:
            if rng.random() < 0.5:
                producer.produce(LEADS_JSON, key=lead["lead_id"], value=to_json(lead))
            else:
                producer.produce(LEADS, key=lead["lead_id"], value=codec.encode("Lead", lead))
        producer.flush(30)
        time.sleep(duration / waves)
    faults.join()
    say(f"intake: {len(batch)} leads produced under {report.intake_kills} SIGKILL(s) and "
        f"{report.redis_outages} Redis outage(s)")
    routed = TopicCounter(run, [requests_topic(t) for t in TIERS])
    want = {lead["lead_id"] for lead in batch}
    try:
        seen: Counter = Counter()

        def done() -> bool:
            return want <= set(seen)

        def step() -> None:
            before = len(routed.records)
            routed.poll(1.0)
            for m in routed.records[before:]:
                lead_id = codec.decode(m.value(), "GenerationRequest")["lead"]["lead_id"]
                if lead_id in want:
                    seen[lead_id] += 1
            _restart(services, "intake", "stream", report)

        _wait(done, timeout_s, step)
        report.intake_routed = len(want & set(seen))
        report.intake_lost = len(want - set(seen))
        report.intake_redelivered = sum(seen.values()) - len(seen)
    finally:
        routed.close()
        services.stop()


def _sender_phase(run, services, producer, codec, campaign, count, kills, redis, redis_down_s,
                  rng, sink, report, say, timeout_s):
    drafts = [chaos_draft(i, campaign) for i in range(count)]
    report.sender_drafts = len(drafts)
    services.start("send", name="sender")
    duration = max(20.0, 3 * redis_down_s)
    faults = _faults(services, {"sender": "send"}, kills, redis, redis_down_s, rng, report,
                     duration, "sender_kills")
    waves = 20
    for wave in range(waves):
        for draft in drafts[wave::waves]:
            producer.produce(DRAFTS, key=draft["draft_id"],
                             value=codec.encode("EmailDraft", draft))
        producer.flush(30)
        time.sleep(duration / waves)
    faults.join()
    say(f"sender: {len(drafts)} drafts produced under {report.sender_kills} SIGKILL(s)")
    want = {d["draft_id"] for d in drafts}

    def delivered() -> Counter:
        # The sink writes one file per delivery: <draft_id>.eml, then <draft_id>-2.eml...
        names = Counter()
        for path in sink.files():
            stem = path.stem
            base, _, copy = stem.rpartition("-")
            names[base if copy.isdigit() and base in want else stem] += 1
        return names

    def step() -> None:
        time.sleep(1.0)
        with contextlib.suppress(Exception):
            services.check_alive()
        if "sender" in services.procs and services.procs["sender"].poll() is not None:
            services.procs.pop("sender")
            services.start("send", name="sender")

    _wait(lambda: want <= set(delivered()), timeout_s, step)
    sent = delivered()
    report.sender_sent = len(want & set(sent))
    report.sender_lost = len(want - set(sent))
    report.sender_duplicate_sends = sum(n - 1 for name, n in sent.items() if name in want)
    services.stop()


def chaos_draft(index: int, campaign: str) -> dict[str, Any]:
    """A ready EmailDraft for the sender phase (the sender's delivery semantics do not depend
    on who wrote the text)."""
    return {
        "draft_id": f"chaos-draft-{index:05d}", "request_id": f"chaos-req-{index:05d}",
        "lead_id": f"chaos-{index:05d}", "campaign": campaign,
        "to_email": f"lead{index}@chaos.example", "to_name": f"Lead {index}",
        "company": "Chaos Testing GmbH", "subject": f"A quick idea #{index}",
        "body": f"Hi Lead,\n\nA short note number {index}.\n\nBest,\nNoor",
        "tier": "small", "variant": "chaos", "model_id": "template", "model_sha256": "0" * 64,
        "model_version": "1", "prompt_hash": "0" * 64, "prompt_tokens": 0,
        "completion_tokens": 0, "attempts": 1, "latency_ms": 0.0, "lead_to_draft_ms": 0.0,
        "estimated_cost_usd": 0.0, "created_at": int(time.time() * 1000)}


def report_dict(report: ChaosReport) -> dict[str, Any]:
    return asdict(report)
