"""The sending engine as a process (`outreach send`): email.drafts in, SMTP out, paced.

Two consumers and a timer, in one thread:
- email.drafts (group ``<group_prefix>-sender``, the reference sender's group, so a deployment
  switches without re-sending): each draft is accepted into the Redis schedule, then the batch's
  offsets are committed; a record that cannot be decoded goes to dlq.email.drafts;
- engagement.events (group ``<group_prefix>-sending-guard``): bounces and complaints feed the
  guardrails;
- every ``sending.tick_s``: one engine tick (sending/engine.py); pauses and moved queues go to
  sending.operations, 5xx refusals to dlq.email.drafts.
Any number of these processes can run side by side: the schedule, the mailbox slots and the
sent-claims are in Redis, and every decision that two of them could race on is one Lua script.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Consumer, KafkaException, Producer
from prometheus_client import Counter

from mail.sender import serve_metrics, subscribe
from mail.transport import NO_SMTP_HOST
from outreach.errors import ConfigError, KafkaError, SchemaError, StoreError
from outreach.kafka import make_producer, produce_sync
from outreach.settings import Settings
from outreach.shutdown import stop_on_signals
from outreach.topics import DRAFTS, ENGAGEMENT, OPERATIONS, dlq
from schemas.deadletter import dead_letter
from schemas.ops import ops_codec
from sending.engine import SCHEDULED, Engine, SmtpTransports, TickReport
from sequences.clock import Clock

log = logging.getLogger(__name__)

STAGE = "sender"
BATCH = 200
SENT_TOTAL = Counter("outreach_sending_sent", "Drafts the SMTP server accepted.", ["mailbox"])
SKIPPED_TOTAL = Counter("outreach_sending_skipped", "Drafts not sent, by reason.", ["reason"])
PAUSES_TOTAL = Counter("outreach_sending_operations", "Operations events (pauses, moves).",
                       ["kind"])

OnSent = Callable[[dict[str, Any], str], None]  # (draft as sent, mailbox address)


@dataclass
class EngineStats:
    accepted: int = 0
    sent: int = 0
    skipped: collections.Counter[str] = field(default_factory=collections.Counter)
    events: list[dict[str, Any]] = field(default_factory=list)


def check_smtp(engine: Engine) -> None:
    """Refuse to start when a mailbox has no SMTP server (nothing would ever be sent)."""
    if not engine.settings.sender.smtp_host and not engine.pool.configured:
        raise ConfigError(NO_SMTP_HOST)
    for box in engine.pool.configured.values():
        if not box.smtp.smtp_host:
            raise ConfigError(f"mailbox {box.address}: {NO_SMTP_HOST}")
        engine.transport_for(box)  # SmtpTransport checks TLS and one-click rules here


def run_engine(settings: Settings, stop: threading.Event | None = None, *,
               on_sent: OnSent | None = None, clock: Clock | None = None) -> EngineStats:
    """Consume drafts and engagement, tick, until ``stop`` (SIGINT/SIGTERM in the main
    thread). Raises ConfigError when no SMTP server is configured."""
    stop = stop or threading.Event()
    stats = EngineStats()
    clock = clock or Clock.from_settings(settings.sequences)
    with contextlib.ExitStack() as cleanup:
        transports = SmtpTransports()
        cleanup.callback(transports.close)
        engine = Engine(settings, clock, transports)
        cleanup.callback(engine.close)
        check_smtp(engine)
        process = _Process(settings, engine, stats, on_sent)
        cleanup.callback(process.close)
        cleanup.enter_context(stop_on_signals(stop, "finishing the current tick"))
        serve_metrics(settings.sender.metrics_port, cleanup, settings.metrics_host)
        log.info("sending engine: %d configured mailboxes, tick %.1f s",
                 len(engine.pool.configured), settings.sending.tick_s)
        next_tick = time.monotonic()
        while not stop.is_set():
            process.intake(timeout_s=min(0.2, settings.sending.tick_s))
            process.engagement()
            if time.monotonic() >= next_tick:
                process.tick()
                next_tick = time.monotonic() + settings.sending.tick_s
    log.info("sending engine stopped: %d accepted, %d sent, skipped %s", stats.accepted,
             stats.sent, dict(stats.skipped))
    return stats


class _Process:
    def __init__(self, settings: Settings, engine: Engine, stats: EngineStats,
                 on_sent: OnSent | None) -> None:
        self.settings = settings
        self.engine = engine
        self.stats = stats
        self.on_sent = on_sent
        self.codec = ops_codec(settings.kafka.schema_registry_url)
        self.producer: Producer = make_producer(settings)
        prefix = settings.kafka.group_prefix
        self.drafts = subscribe(settings, f"{prefix}-sender", DRAFTS)
        self.events = subscribe(settings, f"{prefix}-sending-guard", ENGAGEMENT)

    def intake(self, timeout_s: float) -> None:
        try:
            records = self.drafts.consume(BATCH, timeout=timeout_s)
        except KafkaException as exc:
            raise KafkaError(f"consume from {DRAFTS} failed: {exc}") from exc
        for record in records:
            if record.error():
                if record.error().fatal():
                    raise KafkaError(f"consumer failed: {record.error()}")
                continue
            try:
                draft = self.codec.decode(record.value(), "EmailDraft")
            except SchemaError as exc:
                self._dead_letter(record.partition(), record.offset(), record.key(),
                                  record.value(), exc.code, str(exc), None)
                self._skip(exc.code)
                continue
            outcome = self.engine.accept(draft, record.value())  # StoreError: stop, replay
            if outcome == SCHEDULED:
                self.stats.accepted += 1
            else:
                self._skip(outcome)
        if records:
            _commit(self.drafts)

    def engagement(self) -> None:
        try:
            records = self.events.consume(BATCH, timeout=0)
        except KafkaException as exc:
            raise KafkaError(f"consume from {ENGAGEMENT} failed: {exc}") from exc
        events: list[dict[str, Any]] = []
        for record in records:
            if record.error():
                continue
            try:
                event = self.codec.decode(record.value(), "EngagementEvent")
            except SchemaError as exc:  # the feedback stream owns this topic's dead letters
                log.warning("skipping engagement record: %s", exc)
                continue
            events += self.engine.on_event(dict(event))
        self._publish(events)
        if records:
            _commit(self.events)

    def tick(self) -> TickReport:
        report = self.engine.tick()
        for draft, code, reason in report.rejected:
            self._dead_letter(-1, -1, draft["draft_id"].encode(), None, code, reason, draft)
        self._publish(report.events)
        for sent in report.sent:
            self.stats.sent += 1
            SENT_TOTAL.labels(mailbox=sent.mailbox).inc()
            with contextlib.suppress(StoreError):  # a lost counter is no reason to stop
                self.engine.store.incr("sent")
            if self.on_sent is not None:
                self.on_sent(sent.draft, sent.mailbox)
        for reason, count in report.dropped.items():
            self._skip(reason, count)
        return report

    def _skip(self, reason: str, count: int = 1) -> None:
        self.stats.skipped[reason] += count
        SKIPPED_TOTAL.labels(reason=reason).inc(count)
        with contextlib.suppress(StoreError):
            self.engine.store.incr(reason, count)

    def _publish(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            self.stats.events.append(event)
            PAUSES_TOTAL.labels(kind=event["kind"]).inc()
            produce_sync(self.producer, OPERATIONS,
                         self.codec.encode("OperationsEvent", event, topic=OPERATIONS),  # type: ignore
                         key=event["name"].encode())

    def _dead_letter(self, partition: int, offset: int, key: bytes | None, value: bytes | None,
                     code: str, reason: str, draft: dict[str, Any] | None) -> None:
        letter = dead_letter(source_topic=DRAFTS, partition=partition, offset=offset, key=key,
                             value=value, error_type=code, error=reason, stage=STAGE,
                             request_id=draft["request_id"] if draft else None,
                             lead_id=draft["lead_id"] if draft else None)
        topic = dlq(DRAFTS)
        produce_sync(self.producer, topic, self.codec.encode("DeadLetter", letter, topic=topic),
                     key=key)

    def close(self) -> None:
        for consumer in (self.drafts, self.events):
            with contextlib.suppress(KafkaException):
                consumer.close()
        self.producer.flush(10)


def _commit(consumer: Consumer) -> None:
    try:
        consumer.commit(asynchronous=False)
    except KafkaException as exc:
        # Accepting is idempotent (the schedule remembers each draft id): a replay is harmless.
        log.warning("commit failed, the batch may be replayed: %s", exc)
