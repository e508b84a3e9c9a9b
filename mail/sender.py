"""The reference mail sender: email.drafts -> SMTP, at-least-once in, at most one email out.

For each record of email.drafts (consumer group ``<group_prefix>-sender``, manual commits):

1. decode the EmailDraft and render the message; a record that cannot be either goes to
   dlq.email.drafts with its reason (stage "sender") and the partition moves on;
2. skip it when the recipient (or their domain) is suppressed *now*: the list may have grown
   since intake checked it, minutes or days ago;
3. claim its draft_id in Redis (SET NX); a claimed draft is a redelivery and is never resent;
4. hand it to the SMTP server. A 5xx for this recipient/message dead-letters it (retrying cannot
   help); any other failure releases the claim, seeks back and retries with backoff, so the
   draft is neither lost nor allowed past the drafts behind it;
5. commit the offset, only now that the draft is sent or deliberately skipped.

Known window: a crash after the claim (3) and before the server's answer (4) leaves the claim
in place, so the redelivered draft is skipped as a duplicate. For email that is the right bias,
a lost email over a doubled one, and it spans one SMTP transaction (milliseconds).

`outreach send` runs the sending engine (sending/runner.py), which paces these same steps per
mailbox and recipient; this sender stays as the unpaced reference (tests, and a deployment that
wants every draft out at once).

Nothing is sent without an SMTP host: ``run_sender`` then refuses to start with a ConfigError
(there is no dry-run mode, because a dry run that committed offsets would silently consume the
drafts a real sender should send).
"""

from __future__ import annotations

import collections
import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Consumer, KafkaException, Message, TopicPartition
from prometheus_client import Counter, start_http_server

from schemas.deadletter import dead_letter
from outreach.errors import (ConfigError, KafkaError, RecipientRejected, SchemaError, SendError,
                             StoreError)
from outreach.kafka import consumer_config, make_producer, produce_sync
from mail.message import build_message
from mail.unsubscribe import unsubscribe_link
from mail.transport import SmtpTransport
from outreach.settings import Settings
from outreach.shutdown import stop_on_signals
from outreach.store import IN_FLIGHT, SyncStore
from outreach.store import SENT as ALREADY_SENT
from outreach.topics import DRAFTS, dlq
from schemas.codec import AvroCodec
from schemas.records import EmailDraft
from sequences.gate import SEND, SendGate

log = logging.getLogger(__name__)

STAGE = "sender"
POLL_TIMEOUT_S = 0.5  # also the longest a stop request waits for the loop to notice it
SENT = "sent"
SUPPRESSED = "suppressed_at_send"
DUPLICATE = "duplicate_at_send"
REJECTED = "smtp_rejected"

SENT_TOTAL = Counter("outreach_sender_sent", "Drafts the SMTP server accepted.")
SKIPPED_TOTAL = Counter("outreach_sender_skipped",
                        "Drafts deliberately not sent (suppressed, duplicate, dead-lettered).",
                        ["reason"])
RETRIES_TOTAL = Counter("outreach_sender_retries",
                        "Transient failures (SMTP, Redis, Kafka); the draft is retried.")

OnSent = Callable[[EmailDraft], None]


@dataclass(frozen=True)
class Backoff:
    """Retry delays for transient failures: initial_s, doubling, capped at max_s.

    The 30 s cap keeps a retrying sender well inside librdkafka's max.poll.interval.ms (300 s),
    so it never drops out of the group while an SMTP server is down.
    """

    initial_s: float = 0.5
    max_s: float = 30.0

    def delay(self, failures: int) -> float:
        return min(self.max_s, self.initial_s * 2 ** max(0, failures - 1))


@dataclass
class SenderStats:
    """What one run_sender call did; ``skipped`` is keyed by reason (or dead-letter code)."""

    sent: int = 0
    skipped: collections.Counter[str] = field(default_factory=collections.Counter)
    retries: int = 0

    @property
    def handled(self) -> int:
        return self.sent + sum(self.skipped.values())


class _DraftHandler:
    """Steps 1-4 for one record: (SENT or a skip reason, the draft if it decoded).

    Raises SendError, StoreError or KafkaError to ask for a retry of the same record.
    """

    def __init__(self, settings: Settings, transport: SmtpTransport, store: SyncStore) -> None:
        self._settings = settings
        self._transport = transport
        self._store = store
        self._codec = AvroCodec(registry_url=settings.kafka.schema_registry_url)
        self._producer = make_producer(settings)
        # Sequences: a stopped contact's drafts are dropped, a capped one waits (sequences/gate.py)
        self._gate = SendGate(settings)

    def handle(self, record: Message) -> tuple[str, EmailDraft | None]:
        try:
            draft = self._codec.decode(record.value(), "EmailDraft")
        except SchemaError as exc:
            self._dead_letter(record, exc.code, str(exc), None)
            return exc.code, None
        try:
            message = build_message(draft, self._settings.sender.from_address,
                                    unsubscribe_link(self._settings.sender, draft["draft_id"]))
        except SchemaError as exc:
            self._dead_letter(record, exc.code, str(exc), draft)
            return exc.code, draft
        draft_id = draft["draft_id"]
        if self._store.is_suppressed(draft["to_email"]):
            return SUPPRESSED, draft
        verdict = self._gate.decide(draft, record.value())
        if verdict != SEND:
            return verdict, draft
        claim = self._store.claim_draft(draft_id)
        if claim == ALREADY_SENT:
            return DUPLICATE, draft
        if claim == IN_FLIGHT:
            # Another sender is mid-send, or one crashed after claiming: retry (with backoff)
            # until it settles or its pending claim expires, instead of dropping the draft.
            raise SendError(f"draft {draft_id} is claimed by another sender; retrying")
        try:
            self._transport.send(message)
        except RecipientRejected as exc:
            # A 5xx settles the draft (dead-lettered, never retried)...
            try:
                self._dead_letter(record, REJECTED, str(exc), draft)
            except KafkaError:
                self._store.release_draft(draft_id)  # ...unless the dead letter itself failed
                raise
            self._store.mark_sent(draft_id)
            return REJECTED, draft
        except SendError:
            self._store.release_draft(draft_id)
            raise
        self._store.mark_sent(draft_id)
        return SENT, draft

    def _dead_letter(self, record: Message, code: str, reason: str,
                     draft: EmailDraft | None) -> None:
        letter = dead_letter(
            source_topic=record.topic(), partition=record.partition(), offset=record.offset(),
            key=record.key(), value=record.value(), error_type=code, error=reason, stage=STAGE,
            request_id=draft["request_id"] if draft else None,
            lead_id=draft["lead_id"] if draft else None)
        topic = dlq(record.topic())
        produce_sync(self._producer, topic,
                     self._codec.encode("DeadLetter", letter, topic=topic), key=record.key())
        log.warning("dead-lettered %s[%d]@%d to %s: %s (%s)", record.topic(), record.partition(),
                    record.offset(), topic, code, reason)

    def count(self, counter: str) -> None:
        # Redis stats are shared with the demo and KPI pages; losing one increment is no reason
        # to stop sending, so a Redis hiccup here is only logged.
        try:
            self._store.incr(counter)
        except StoreError as exc:
            log.warning("cannot count %s: %s", counter, exc)

    def close(self) -> None:
        self._producer.flush(10)
        self._gate.close()


def run_sender(settings: Settings, stop: threading.Event | None = None,
               max_messages: int | None = None, on_sent: OnSent | None = None, *,
               backoff: Backoff = Backoff()) -> SenderStats:
    """Consume email.drafts and send each draft once, until ``stop`` is set.

    ``max_messages`` ends the run after that many records were settled (sent, skipped or
    dead-lettered; retries do not count). ``on_sent(draft)`` is called with each decoded
    EmailDraft after the server accepted it and its offset was committed. SIGTERM/SIGINT set
    ``stop`` when this runs in the main thread. Raises ConfigError when no SMTP host is set.
    """
    stop = stop or threading.Event()
    stats = SenderStats()
    with contextlib.ExitStack() as cleanup:  # closes in reverse order, also on a failed start
        transport = cleanup.enter_context(SmtpTransport(settings.sender))  # ConfigError first
        store = SyncStore(settings)
        cleanup.callback(store.close)
        handler = _DraftHandler(settings, transport, store)
        cleanup.callback(handler.close)
        consumer = subscribe(settings, f"{settings.kafka.group_prefix}-sender")
        cleanup.callback(consumer.close)  # leaves the group now, not after session.timeout.ms
        cleanup.enter_context(stop_on_signals(stop, "finishing the current draft"))
        serve_metrics(settings.sender.metrics_port, cleanup, settings.metrics_host)
        log.info("sender consuming %s, sending via %s", DRAFTS, transport.address)
        _loop(consumer, handler, stop, max_messages, on_sent, backoff, stats)
    log.info("sender stopped: %d sent, skipped %s, %d retries",
             stats.sent, dict(stats.skipped), stats.retries)
    return stats


def _loop(consumer: Consumer, handler: _DraftHandler, stop: threading.Event,
          max_messages: int | None, on_sent: OnSent | None, backoff: Backoff,
          stats: SenderStats) -> None:
    failures = 0
    while not stop.is_set() and (max_messages is None or stats.handled < max_messages):
        record = consumer.poll(POLL_TIMEOUT_S)
        if record is None:
            continue
        if record.error():
            if record.error().fatal():
                raise KafkaError(f"consumer failed: {record.error()}")
            log.warning("consumer error (librdkafka retries it): %s", record.error())
            continue
        try:
            outcome, draft = handler.handle(record)
        except (SendError, StoreError, KafkaError) as exc:
            failures += 1
            stats.retries += 1
            RETRIES_TOTAL.inc()
            delay = backoff.delay(failures)
            log.warning("draft at %s[%d]@%d not sent (%s); retrying in %.1f s", record.topic(),
                        record.partition(), record.offset(), exc, delay)
            _rewind(consumer, record)
            stop.wait(delay)
            continue
        failures = 0
        _commit(consumer, record)
        handler.count(outcome)
        if outcome == SENT:
            stats.sent += 1
            SENT_TOTAL.inc()
            if on_sent is not None and draft is not None:
                on_sent(draft)
        else:
            stats.skipped[outcome] += 1
            SKIPPED_TOTAL.labels(reason=outcome).inc()


def subscribe(settings: Settings, group: str, topic: str = DRAFTS) -> Consumer:
    """A manual-commit consumer of ``topic`` in ``group`` (the sending engine's too)."""
    try:
        consumer = Consumer(consumer_config(settings, group))
        consumer.subscribe([topic])
    except KafkaException as exc:
        raise KafkaError(f"cannot subscribe to {topic} as {group}: {exc}") from exc
    return consumer


def _rewind(consumer: Consumer, record: Message) -> None:
    """Make the next poll of this partition return ``record`` again.

    Seeking also drops the records librdkafka already fetched behind it, so nothing after the
    failed draft is sent (or committed) before it.
    """
    try:
        consumer.seek(TopicPartition(record.topic(), record.partition(), record.offset()))
    except KafkaException as exc:
        # Only possible when the partition was revoked meanwhile: its offset is uncommitted,
        # so the partition's next owner starts at this very draft anyway.
        log.warning("cannot rewind %s[%d]: %s", record.topic(), record.partition(), exc)


def _commit(consumer: Consumer, record: Message) -> None:
    try:
        consumer.commit(message=record, asynchronous=False)
    except KafkaException as exc:
        # The draft is sent and claimed; if this offset is redelivered after a rebalance the
        # claim turns it into a skipped duplicate, so a failed commit costs no second email.
        log.warning("commit of %s[%d]@%d failed: %s", record.topic(), record.partition(),
                    record.offset(), exc)


def serve_metrics(port: int | None, cleanup: contextlib.ExitStack,
                   host: str = "127.0.0.1") -> None:
    if port is None:
        return
    try:
        server, _thread = start_http_server(port, addr=host)
    except OSError as exc:
        raise ConfigError(f"cannot serve metrics on port {port}: {exc}") from exc
    cleanup.callback(server.server_close)
    cleanup.callback(server.shutdown)
    log.info("metrics on http://%s:%d/metrics", host, port)
