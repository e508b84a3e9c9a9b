"""The rebalance scenario of `outreach chaos --rebalance` and tests/workers/test_rebalance.py.

Two generation workers (`outreach worker --tier small`, each its own process with the real
model and the one consumer loop) share a consumer group on email.requests.small; a third joins
mid-run, which revokes partitions from the first two while they generate; then one of the
first two is SIGKILLed mid-run, and its partitions move after session.timeout.ms.

Every request must end with exactly one distinct outcome (a draft, or a dead letter when the
draft fails its checks: escalation is off so that every outcome is a record to count):
0 lost, 0 duplicates. Up to the kill every member leaves or joins gracefully, so not even a
redelivered record may appear; after the SIGKILL a redelivery may write a record twice, under
the same draft_id with the same text (mail senders de-duplicate by draft_id).
"""

from __future__ import annotations

import re
import signal
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from confluent_kafka import Consumer

from apps.pipeline import Services
from outreach.kafka import consumer_config, make_producer, produce_sync
from outreach.settings import Settings
from outreach.topics import DRAFTS, dlq, requests_topic
from schemas.codec import AvroCodec
from schemas.records import DeadLetter, EmailDraft, GenerationRequest, Lead

TOPIC = requests_topic("small")
WORKERS = ("worker-a", "worker-b", "worker-c")
# The third member's log line once the group handed it partitions (workers/consumer_loop.py).
ASSIGNED = re.compile(r"assigned \[\d")
ABANDONED = re.compile(r"\((\d+) running request")
# Children of this scenario, over whatever the settings file says:
WORKER_ENV = {
    # Failed drafts become dead letters on a topic, not LLM requests or held drafts in Redis:
    # every request's outcome is then a record this scenario can count.
    "OUTREACH_ESCALATION__LLM": "false", "OUTREACH_ESCALATION__REVIEW": "false",
    # Four sequences per process: several requests in flight when partitions move.
    "OUTREACH_MODEL__BATCH_SLOTS": "4",
    "OUTREACH_WORKER__GRAMMAR_ON_RETRY": "false",  # ~15 s a retry on 2 cores; not the subject
}


@dataclass
class RebalanceFigures:
    requests: int = 0
    drafts: int = 0  # distinct draft_ids written
    dead_letters: int = 0  # distinct requests that ended as a dead letter
    lost: int = 0  # requests without any outcome
    duplicates: int = 0  # requests with more than one distinct outcome
    redelivered_records: int = 0  # extra records of the same outcome (after the SIGKILL only)
    records_before_kill: int = 0  # extra records up to the kill: must be 0
    outcomes_at_join: int = 0
    outcomes_at_kill: int = 0  # < requests: the kill happened mid-run
    abandoned_on_revoke: int = 0  # running requests a revoke left to the new owner
    revoked_members: list[str] = field(default_factory=list)
    killed_had_partitions: bool = False  # the killed member held partitions after the join
    seconds: float = 0.0
    unknown_outcomes: int = 0  # records of requests this run never produced
    by_request: dict[str, list[EmailDraft | DeadLetter]] = field(default_factory=dict, repr=False)

    def ok(self) -> bool:
        return (self.lost == 0 and self.duplicates == 0 and self.records_before_kill == 0
                and self.outcomes_at_kill < self.requests and self.unknown_outcomes == 0)


class _Outcomes:
    """email.drafts and dlq.email.requests.small from the beginning, grouped by request_id."""

    def __init__(self, settings: Settings, ids: set[str]) -> None:
        self.ids = ids
        self.codec = AvroCodec()
        self.by_request: dict[str, list[EmailDraft | DeadLetter]] = {}
        self.unknown = 0
        self.consumer = Consumer(consumer_config(
            settings, f"{settings.kafka.group_prefix}-rebalance-{uuid.uuid4().hex[:8]}"))
        self.consumer.subscribe([DRAFTS, dlq(TOPIC)])

    def poll(self, seconds: float = 0.5) -> None:
        for msg in self.consumer.consume(num_messages=500, timeout=seconds):
            if msg.error():
                continue
            record = self.codec.decode(msg.value(),
                                       "EmailDraft" if msg.topic() == DRAFTS else "DeadLetter")
            request_id = record.get("request_id")
            if request_id in self.ids:
                self.by_request.setdefault(str(request_id), []).append(record)
            else:
                self.unknown += 1

    def extra_records(self) -> int:
        return sum(len(records) - 1 for records in self.by_request.values())

    def close(self) -> None:
        self.consumer.close()


def _until(predicate, timeout_s: float, step, what: str) -> None:  # noqa: ANN001
    """Call ``step`` until ``predicate()`` holds; TimeoutError names what never happened."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"rebalance: timed out waiting for {what}")
        step()


def _log(services: Services, name: str) -> str:
    path = services.log_dir / f"{name}.log"
    return path.read_text(errors="replace") if path.exists() else ""


def rebalance_run(settings: Settings, log_dir: Path, requests: list[GenerationRequest],
                  timeout_s: float = 600.0, say=print) -> RebalanceFigures:  # noqa: ANN001
    """Run the scenario on ``settings``' stack (the requests' campaign must be published)."""
    codec = AvroCodec()
    ids = {r["request_id"] for r in requests}
    figures = RebalanceFigures(requests=len(requests))
    producer = make_producer(settings)
    for request in requests:
        produce_sync(producer, TOPIC, codec.encode("GenerationRequest", request),
                     key=request["lead"]["lead_id"].encode())
    services = Services(settings, log_dir, extra_env=dict(WORKER_ENV))
    services.share_cores(len(WORKERS))  # three llama.cpp processes must not oversubscribe
    outcomes = _Outcomes(settings, ids)
    started = time.monotonic()
    try:
        for name in WORKERS[:2]:
            services.start("worker", "--tier", "small", name=name)
        _until(lambda: len(outcomes.by_request) >= 3, timeout_s, outcomes.poll,
               "the first outcomes of two workers")
        figures.outcomes_at_join = len(outcomes.by_request)
        services.start("worker", "--tier", "small", name=WORKERS[2])
        _until(lambda: ASSIGNED.search(_log(services, WORKERS[2])), timeout_s, outcomes.poll,
               "the third worker's assignment")
        say(f"rebalance: third worker assigned after {time.monotonic() - started:.0f} s, "
            f"{len(outcomes.by_request)}/{len(ids)} requests done")
        at_join = len(outcomes.by_request)
        _until(lambda: len(outcomes.by_request) > at_join or len(outcomes.by_request) == len(ids),
               timeout_s, outcomes.poll, "an outcome after the join")
        outcomes.poll(0.2)
        figures.records_before_kill = outcomes.extra_records()
        figures.outcomes_at_kill = len(outcomes.by_request)
        victim = WORKERS[0]
        figures.killed_had_partitions = _assigned_after_revoke(_log(services, victim))
        services.kill(victim)  # SIGKILL: no revoke, no commit; what a crashed host looks like
        say(f"rebalance: {victim} SIGKILLed with {figures.outcomes_at_kill}/{len(ids)} done")
        _until(lambda: ids <= set(outcomes.by_request), timeout_s, outcomes.poll,
               "an outcome for every request")
        figures.seconds = round(time.monotonic() - started, 1)
        for name in WORKERS[1:]:
            services.procs[name].send_signal(signal.SIGTERM)
        for name in WORKERS[1:]:
            if services.procs[name].wait(timeout=60) != 0:
                raise RuntimeError(f"{name} did not stop cleanly: {_log(services, name)[-2000:]}")
        # A late record (a redelivery nobody asked for) would show up here.
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            outcomes.poll(0.5)
    finally:
        services.stop()
        outcomes.close()
    logs = {name: _log(services, name) for name in WORKERS}
    figures.by_request = outcomes.by_request
    figures.lost = len(ids - set(outcomes.by_request))
    figures.duplicates = sum(1 for records in outcomes.by_request.values()
                             if len({_identity(r) for r in records}) > 1)
    figures.redelivered_records = outcomes.extra_records() - figures.records_before_kill
    figures.drafts = len({r.get("draft_id") for records in outcomes.by_request.values()
                          for r in records if "draft_id" in r})
    figures.dead_letters = sum(1 for records in outcomes.by_request.values()
                               if "draft_id" not in records[0])
    figures.unknown_outcomes = outcomes.unknown
    figures.abandoned_on_revoke = sum(int(n) for text in logs.values()
                                      for n in ABANDONED.findall(text))
    figures.revoked_members = [name for name, text in logs.items() if "revoked" in text]
    say(f"rebalance: {figures.requests} requests, {figures.drafts} drafts, "
        f"{figures.dead_letters} dead letters, {figures.lost} lost, "
        f"{figures.duplicates} duplicates ({figures.redelivered_records} redelivered records)")
    return figures


def _identity(record: EmailDraft | DeadLetter) -> tuple[Any, ...]:
    """What makes two records the same outcome: a redelivery regenerates the same draft."""
    return record.get("draft_id"), record.get("subject"), record.get("body"), record.get("error")


def _assigned_after_revoke(text: str) -> bool:
    """Whether a member's log shows a non-empty assignment after its last revoke."""
    revoked = text.rfind("revoked")
    return revoked >= 0 and ASSIGNED.search(text, revoked) is not None


def rebalance_requests(leads: list[Lead], now_ms: int) -> list[GenerationRequest]:
    """GenerationRequests for the small tier, as routing would write them."""
    from outreach.ids import request_id

    return [{"request_id": request_id(lead["lead_id"], lead["campaign"]), "lead": lead,
             "tier": "small", "variant": "control", "rule": "default", "attempt": 0,
             "received_at": now_ms, "routed_at": now_ms} for lead in leads]


def rebalance_phase(run: Settings, out: Path, campaign: str, seed: int, report: Any,
                    say: Any, timeout_s: float, count: int = 18) -> RebalanceFigures:
    """The scenario on the chaos stack's campaign; figures go to ``report.rebalance``."""
    from dataclasses import asdict

    from outreach.leadgen import generate

    generated = generate(count, seed=seed + 2, campaign=campaign, suppressed=0, duplicates=0,
                         malformed=0).leads
    # outreach.leadgen (the foundation) builds leads without naming their schema.
    leads = [cast(Lead, dict(lead, lead_id=f"rebalance-{i:03d}"))
             for i, lead in enumerate(generated)]
    figures = rebalance_run(run, out / "logs" / "rebalance",
                            rebalance_requests(leads, int(time.time() * 1000)), timeout_s, say)
    report.rebalance = {key: value for key, value in asdict(figures).items()
                        if key != "by_request"}
    return figures


def report_rows(figures: dict[str, Any]) -> list[tuple[str, Any]]:
    """The chaos table's rows of one run (``figures``: RebalanceFigures as a dict)."""
    return [
        ("requests, 2 workers in one group + a 3rd joining, 1 SIGKILLed mid-run",
         figures["requests"]),
        ("  drafts (distinct draft_ids)", figures["drafts"]),
        ("  dead letters (draft failed its checks)", figures["dead_letters"]),
        ("  lost", figures["lost"]),
        ("  duplicates (a second, different outcome)", figures["duplicates"]),
        ("  records repeated before the kill", figures["records_before_kill"]),
        ("  redelivered after the kill (same draft_id and text)",
         figures["redelivered_records"]),
        ("  running requests left to the new owner on a revoke",
         figures["abandoned_on_revoke"]),
    ]


def failed(figures: dict[str, Any]) -> bool:
    """Whether a chaos run's rebalance figures break the promise (none run: not failed)."""
    return bool(figures) and not RebalanceFigures(**figures).ok()
