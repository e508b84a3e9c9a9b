"""The sequence scheduler (`outreach sequences`): event-driven, durable in Redis, at-least-once.

Consumes (group ``<group_prefix>-sequences``, manual commits):
    email.requests.<tier>  step-1 requests: the lead a follow-up will quote
    email.drafts           a step was written: schedule the next one after its business-day
                           delay, or finish the sequence; crm.updates SENT
    engagement.events      reply / unsubscribe / bounce / complaint: stop the sequence (and the
                           contact's other sequences, per settings); crm.updates with the class
    dlq.email.requests     a follow-up no rung could write: its sequence finishes there
and, every ``sequences.tick_s``, requests the follow-ups that are due (contact cap permitting)
and re-publishes drafts the contact cap deferred once their time has come.

Order per batch: Redis transitions, then every output is produced and acknowledged, then the
outbox records them, then offsets are committed. A crash anywhere replays the batch; the
transitions answer from the state they left and the outbox drops outputs already acknowledged,
so a restart loses no step and repeats none (the one window: a crash between the broker's
acknowledgement and the outbox write repeats those outputs with the same ids, which the worker,
the sender and a CRM sink all de-duplicate).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Consumer, KafkaException, Producer

from outreach.campaign_log import CampaignLog
from outreach.errors import CampaignError, KafkaError, SchemaError, StoreError
from outreach.kafka import consumer_config, make_producer
from outreach.settings import TIERS, Settings
from outreach.shutdown import stop_on_signals
from outreach.topics import CRM_UPDATES, DRAFTS, ENGAGEMENT, dlq, requests_topic
from schemas.campaign import Campaign, Step
from schemas.crm import crm_codec
from sequences.cap import ContactCap
from sequences.clock import Clock
from sequences.handlers import Handlers, Output, StepsOf
from sequences.read_mark import FETCH_WAIT_MS, ReadMark
from sequences.state import SequenceStore

log = logging.getLogger(__name__)
BATCH = 500


@dataclass
class SchedulerStats:
    records: int = 0
    requested: int = 0  # follow-up requests produced
    crm_updates: int = 0
    redelivered_drafts: int = 0  # drafts the cap deferred, re-published
    outputs_skipped: int = 0  # already acknowledged before a restart (the outbox)
    ticks: int = 0  # passes of the timer (the due-step gate open)
    by_topic: dict[str, int] = field(default_factory=dict)


class Scheduler:
    def __init__(self, settings: Settings, steps_of: StepsOf, clock: Clock | None = None,
                 group_id: str | None = None) -> None:
        self.settings = settings
        self.clock = clock or Clock.from_settings(settings.sequences)
        self.store = SequenceStore(settings)
        self.codec = crm_codec(settings.kafka.schema_registry_url)
        self.handlers = Handlers(settings, self.store, ContactCap(settings, self.store.redis),
                                 self.clock, steps_of, self.codec)
        self.stats = SchedulerStats()
        self._errors: list[Any] = []  # delivery failures since the last flush
        self._producer: Producer = make_producer(settings)
        group = group_id or f"{settings.kafka.group_prefix}-sequences"
        try:
            self._consumer = Consumer(consumer_config(
                settings, group, **{"fetch.wait.max.ms": FETCH_WAIT_MS}))
            self._consumer.subscribe([DRAFTS, ENGAGEMENT, dlq(requests_topic("small")),
                                      *(requests_topic(t) for t in TIERS)])
        except KafkaException as exc:
            raise KafkaError(f"sequence scheduler cannot subscribe as {group}: {exc}") from exc
        self._read_mark = ReadMark(self._consumer, consumer_config(settings, f"{group}-mark"),
                                   self.clock)

    def assigned(self) -> bool:
        """Whether this scheduler holds partitions yet (joining its group takes seconds)."""
        try:
            return bool(self._consumer.assignment())
        except KafkaException:
            return False

    def run(self, stop: threading.Event) -> SchedulerStats:
        with stop_on_signals(stop, "finishing the current batch"):
            while not stop.is_set():
                self.poll_once(self.settings.sequences.tick_s)
        return self.stats

    def poll_once(self, timeout_s: float) -> None:
        """One batch of records, then one pass of the timer."""
        try:
            messages = self._consumer.consume(BATCH, timeout=timeout_s)
        except KafkaException as exc:
            raise KafkaError(f"consume failed: {exc}") from exc
        outputs: list[Output] = []
        for msg in messages:
            if msg.error():
                if msg.error().fatal():
                    raise KafkaError(f"consumer failed: {msg.error()}")
                continue
            outputs += self._handle(msg)
        self._emit(outputs)
        if messages:
            self._commit()
        # Due steps only up to the time by which every engagement event is read
        # (sequences/read_mark.py): a scheduler that starts after hours down (or rejoins its
        # group) must see the replies that arrived meanwhile before it requests the steps
        # they stop.
        read_to = self._read_mark.reached()
        if read_to is not None:
            try:
                everywhere = self.store.read_everywhere(self._read_mark.owned, read_to,
                                                        self._read_mark.partitions())
            except KafkaException as exc:
                log.warning("cannot count engagement partitions (%s); due steps wait", exc)
                return
            if everywhere is not None:
                self.tick(everywhere)

    def tick(self, due_by_ms: int | None = None) -> None:
        """Due follow-ups (due by ``due_by_ms``, default now) and deferred drafts: produce,
        acknowledge, then record."""
        self.stats.ticks += 1
        due = self.handlers.due_requests(due_by_ms)
        self._emit([out for _, _, out in due if out is not None])
        for d, step, out in due:
            if self.store.mark_requested(d, step) and out is not None:
                self.stats.requested += 1
        for draft_id, raw in self.store.due_drafts(self.clock.now_ms()):
            self._produce(Output(f"redo:{draft_id}", DRAFTS, draft_id, raw))
            self._flush()
            self.store.release_draft(draft_id)
            self.stats.redelivered_drafts += 1

    def _handle(self, msg: Any) -> list[Output]:
        topic = msg.topic()
        self.stats.records += 1
        self.stats.by_topic[topic] = self.stats.by_topic.get(topic, 0) + 1
        try:
            if topic == DRAFTS:
                return self.handlers.on_draft(self.codec.decode(msg.value(), "EmailDraft"))
            if topic == ENGAGEMENT:
                raw = msg.value()
                return self.handlers.on_event(self.codec.decode(raw, "EngagementEvent"), raw)
            if topic == dlq(requests_topic("small")):
                return self.handlers.on_dead_letter(self.codec.decode(msg.value(), "DeadLetter"))
            return self.handlers.on_request(self.codec.decode(msg.value(), "GenerationRequest"))
        except SchemaError as exc:
            # Not ours to dead-letter: the sender, the feedback stream and the workers own these
            # topics and their dead letters; a record we cannot read schedules nothing.
            log.warning("skipping %s[%d]@%d: %s", topic, msg.partition(), msg.offset(), exc)
            return []

    def _emit(self, outputs: list[Output]) -> None:
        unique: dict[str, Output] = {}
        for out in outputs:
            unique.setdefault(out.output_id, out)
        ids = list(unique)
        fresh = [unique[i] for i, done in zip(ids, self.store.already_out(ids)) if not done]
        self.stats.outputs_skipped += len(ids) - len(fresh)
        for out in fresh:
            self._produce(out)
        self._flush()
        self.store.mark_out([out.output_id for out in fresh])
        self.stats.crm_updates += sum(1 for out in fresh if out.topic == CRM_UPDATES)

    def _produce(self, out: Output) -> None:
        def delivered(err: Any, _msg: Any) -> None:
            if err is not None:
                self._errors.append(err)

        try:
            self._producer.produce(out.topic, value=out.value, key=out.key,
                                   on_delivery=delivered)
        except BufferError:
            self._producer.flush(30)
            self._producer.produce(out.topic, value=out.value, key=out.key,
                                   on_delivery=delivered)
        except KafkaException as exc:
            raise KafkaError(f"cannot produce to {out.topic}: {exc}") from exc

    def _flush(self) -> None:
        remaining = self._producer.flush(30)
        errors, self._errors = self._errors, []
        if errors or remaining:
            # Nothing is committed: the batch is replayed by this process's successor.
            raise KafkaError(f"outputs not acknowledged: {errors[0] if errors else 'timeout'}")

    def _commit(self) -> None:
        try:
            self._consumer.commit(asynchronous=False)
        except KafkaException as exc:
            # Replaying these records is harmless (transitions and the outbox are idempotent).
            log.warning("commit failed, the batch may be replayed: %s", exc)

    def close(self) -> None:
        with contextlib.suppress(KafkaException):
            self._read_mark.close()
            self._consumer.close()
        self._producer.flush(10)
        self.store.close()


def steps_from_topic(log_table: CampaignLog[Any]) -> StepsOf:
    """campaign id -> the newest version's steps, read from the compacted `campaigns` topic; ()
    for a campaign the topic does not hold or cannot validate (one email, no follow-ups)."""
    def steps_of(campaign_id: str) -> tuple[Step, ...]:
        record = log_table.latest(campaign_id)
        if record is None:
            return ()
        try:
            return Campaign.from_record(record).sequence
        except CampaignError as exc:
            log.warning("campaign %s has no usable steps: %s", campaign_id, exc)
            return ()
    return steps_of


def run_scheduler(settings: Settings, stop: threading.Event | None = None,
                  clock: Clock | None = None) -> SchedulerStats:
    """Follow the `campaigns` topic and schedule until ``stop`` is set (SIGINT/SIGTERM set it
    in the main thread)."""
    stop = stop or threading.Event()
    codec = crm_codec(settings.kafka.schema_registry_url)
    with CampaignLog(settings, lambda raw: codec.decode(raw, "Campaign")) as table:
        scheduler = Scheduler(settings, steps_from_topic(table), clock)
        try:
            return scheduler.run(stop)
        except StoreError:
            log.exception("Redis failed; stopping (the batch is replayed on restart)")
            raise
        finally:
            scheduler.close()
