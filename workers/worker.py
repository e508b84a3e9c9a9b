"""The generation worker's Kafka loop: email.requests.<tier> -> email.drafts | dlq.email.requests.

Delivery: at-least-once. Each message is handled to completion, its output (draft or dead
letter) is produced and acknowledged by the broker (acks=all, idempotent producer), and only
then is the message's offset committed, synchronously. A SIGKILL anywhere before the commit
means the request is redelivered and regenerated with the same seeds under the same draft_id
(generation/generate.py), so the duplicate is harmless; a SIGKILL after the commit loses nothing.
Inference blocks this thread (never an event loop); librdkafka heartbeats on its own threads,
and a draft takes seconds, far inside max.poll.interval.ms (300 s by default).

Hot reload (workers/reload.py): each request leases the model of its slot (the champion, or the
challenger for an A/B arm whose model_role is challenger) for its whole generation, so a release
swapped in meanwhile takes the next requests and no request is dropped, repeated or split
between two models. Drafts record the model_id, sha256 and version of the model that wrote them.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, KafkaException, Message, TopicPartition
from confluent_kafka import KafkaError as RdKafkaError

from outreach.errors import CampaignError, KafkaError, SchemaError
from outreach.kafka import consumer_config, make_producer, produce_sync
from outreach.settings import Settings
from outreach.shutdown import stop_on_signals
from outreach.topics import DRAFTS, dlq, requests_topic
from schemas.codec import AvroCodec
from schemas.deadletter import from_message
from workers import metrics
from schemas.campaign import Campaign
from schemas.records import DeadLetter, GenerationRequest
from generation.batch_types import EngineStats
from generation.batched_generator import BatchedGenerator
from workers.campaigns import CampaignResolver
from generation.engine import Generator
from workers.consumer_loop import ConsumerLoop
from workers.ladder import Ladder, rung_of, stub_draft
from workers import ladder_metrics
from generation.generate import Outcome, draft_for_request, estimated_cost_usd
from generation.model import resolve_model
from workers.reload import EventHook, LoadedModel, ModelHolder, ReleaseFollower, open_generator

log = logging.getLogger(__name__)

@dataclass
class WorkerStats:
    consumed: int = 0
    drafts: int = 0
    dead_letters: int = 0
    held: int = 0  # drafts queued for approval instead of email.drafts
    escalated: int = 0  # requests moved up the ladder (to the LLM tier or to review)
    abandoned: int = 0  # running when a rebalance took their partition: the new owner's


def group_id(settings: Settings) -> str:
    return f"{settings.kafka.group_prefix}-worker-{settings.worker.tier}"


def dead_letter(msg: Message, error_type: str, error: str, request_id: str | None = None,
                lead_id: str | None = None) -> DeadLetter:
    """A DeadLetter record (schemas/avro/dead_letter.avsc) carrying the original bytes."""
    return from_message(msg, stage="worker", error_type=error_type, error=error,
                        request_id=request_id, lead_id=lead_id)


class Worker:
    """One consumer, one producer and the loaded models (a ModelHolder: champion and, during an
    A/B test, challenger). A message goes through ``process`` (on a pool thread of the
    ConsumerLoop, workers/consumer_loop.py), then ``publish`` and ``commit`` (loop thread)."""

    def __init__(self, settings: Settings, models: ModelHolder,
                 on_event: EventHook | None = None) -> None:
        self.settings = settings
        self.models = models
        self.on_event = on_event
        # Which release writes each A/B arm; a variant not listed is the champion's.
        self._roles = {v.name: v.model_role for v in settings.abtest.variants}
        self.codec = AvroCodec(registry_url=settings.kafka.schema_registry_url)
        self.topic = requests_topic(settings.worker.tier)
        self.stats = WorkerStats()
        self.producer = make_producer(settings)
        try:
            self.consumer = Consumer(consumer_config(settings, group_id(settings)))
        except KafkaException as exc:
            raise KafkaError(f"cannot create consumer: {exc}") from exc
        self.ladder = Ladder(settings, self.producer, self.codec)
        # The `campaigns` table, read up to its end on first use (run_worker: at start).
        self._resolver: CampaignResolver | None = None
        self._resolver_lock = threading.Lock()
        # Published outcomes by (topic, partition, offset), reported once committed.
        self._events: dict[tuple[str, int, int], dict[str, Any]] = {}

    def poll_many(self, limit: int, timeout_s: float) -> list[Message]:
        try:
            messages = self.consumer.consume(num_messages=limit, timeout=timeout_s)
        except KafkaException as exc:
            raise KafkaError(f"consumer failed: {exc}") from exc
        return [msg for msg in messages if self._usable(msg) is not None]

    def _usable(self, msg: Message) -> Message | None:
        if msg.error():
            if msg.error().code() == RdKafkaError._PARTITION_EOF:
                return None
            if msg.error().fatal():
                raise KafkaError(f"consumer failed: {msg.error()}")
            log.warning("consumer error (retried by librdkafka): %s", msg.error())
            return None
        return msg

    def campaign_table(self) -> CampaignResolver:
        with self._resolver_lock:
            if self._resolver is None:
                cfg = self.settings.campaigns
                self._resolver = CampaignResolver.open(self.settings, self.codec,
                                                       cfg.worker_wait_s, cfg.start_timeout_s)
            return self._resolver

    def campaign_for(self, request: GenerationRequest) -> Campaign:
        """The request's campaign version (CampaignError: unknown, retired or invalid)."""
        return self.campaign_table().resolve(request)

    def process(self, msg: Message) -> Outcome | DeadLetter:
        """Decode and generate (no Kafka I/O): an Outcome, or a DeadLetter for bad bytes.
        Safe to run on several threads at once (the batched generator is shared)."""
        try:
            request = self.codec.decode(msg.value(), "GenerationRequest")
        except SchemaError as exc:
            key = msg.key()
            lead_id = key.decode("utf-8", "replace") if key else None
            return dead_letter(msg, exc.code, str(exc), lead_id=lead_id)
        try:
            campaign = self.campaign_for(request)
        except CampaignError as exc:  # never written for a default product
            return dead_letter(msg, exc.code, str(exc), request_id=request["request_id"],
                               lead_id=request["lead"]["lead_id"])
        slot = self._roles.get(request["variant"], "champion")
        with self.models.lease(slot) as loaded:
            outcome = draft_for_request(request, loaded.generator, loaded.model, loaded.settings,
                                        campaign)
        served = "challenger" if loaded.release and loaded.release["role"] == "CHALLENGER" \
            else "champion"
        metrics.observe_outcome(outcome)
        metrics.MODEL_REQUESTS.labels(tier=self.settings.worker.tier, slot=served,
                                      model_version=loaded.model.version).inc()
        return outcome

    def publish(self, msg: Message, result: Outcome | DeadLetter) -> None:
        """Produce the outcome of ``msg`` and wait for the broker's acknowledgement."""
        self.stats.consumed += 1
        event: dict[str, Any] = {"topic": msg.topic(), "partition": msg.partition(),
                                 "offset": msg.offset()}
        if not isinstance(result, Outcome):
            self._dead_letter(msg, result, event)
        else:
            event.update(request_id=result.request_id, lead_id=result.lead_id,
                         attempts=result.attempts)
            if result.model is not None:
                event.update(model_id=result.model.model_id, model_sha256=result.model.sha256,
                             model_version=result.model.version)
            # Decoded again (~50 us): the ladder needs the request's rung and reasons.
            request = self.codec.decode(msg.value(), "GenerationRequest")
            self.ladder.record_spend(request, result, self.spent_usd(result))  # one ledger
            if result.ok:
                self._draft(request, result, event)
            elif not self._escalate(request, result, event):
                letter = dead_letter(msg, "checks_failed",
                                     self.ladder.dead_letter_reason(request, result.reasons),
                                     request_id=result.request_id, lead_id=result.lead_id)
                event["reasons"] = result.reasons
                self._dead_letter(msg, letter, event)
                ladder_metrics.LADDER.labels(rung=rung_of(request), outcome="dead_letter").inc()
        self._events[(msg.topic(), msg.partition(), msg.offset())] = event

    def commit(self, messages: list[Message]) -> None:
        """Commit offsets whose outcomes are acknowledged (callers pass only those)."""
        if messages:
            positions: dict[tuple[str, int], int] = {}
            for m in messages:
                key = (m.topic(), m.partition())
                positions[key] = max(positions.get(key, -1), m.offset() + 1)
            offsets = [TopicPartition(t, p, o) for (t, p), o in positions.items()]
            try:
                self.consumer.commit(offsets=offsets, asynchronous=False)
            except KafkaException as exc:
                # Typically a rebalance took the partition away meanwhile. Not fatal: the new
                # owner redelivers the message and regenerates the same draft_id, which
                # consumers de-duplicate.
                log.warning("commit of %d offset(s) failed (will be redelivered): %s",
                            len(offsets), exc)
        for msg in messages:
            event = self._events.pop((msg.topic(), msg.partition(), msg.offset()), None)
            if event is not None and self.on_event is not None:
                self.on_event(event)

    def _draft(self, request: GenerationRequest, outcome: Outcome, event: dict[str, Any]) -> None:
        draft = outcome.draft
        assert draft is not None  # publish calls this for an outcome that is ok
        self.ladder.mark(request, draft)
        reason = self.ladder.hold_reason(request, draft)
        if reason is not None:
            self.ladder.hold(request, draft, reason)
            self.stats.held += 1
            ladder_metrics.LADDER.labels(rung=draft["rung"], outcome="held").inc()
            event.update(kind="held", draft_id=draft["draft_id"], reason=reason)
            return
        ladder_metrics.LADDER.labels(rung=draft["rung"], outcome="draft").inc()
        produce_sync(self.producer, DRAFTS, self.codec.encode("EmailDraft", draft, topic=DRAFTS),
                     key=draft["draft_id"])
        self.stats.drafts += 1
        metrics.DRAFTS.labels(tier=self.settings.worker.tier).inc()
        event.update(kind="draft", draft_id=draft["draft_id"], latency_ms=draft["latency_ms"])
        log.info("draft %s for request %s (%d attempt(s), %.0f ms)", draft["draft_id"],
                 outcome.request_id, outcome.attempts, draft["latency_ms"])

    def _escalate(self, request: GenerationRequest, outcome: Outcome,
                  event: dict[str, Any]) -> bool:
        """Move a request whose drafts all failed up the ladder; False = no rung is left."""
        rung = rung_of(request)
        stub = stub_draft(request, outcome, self.settings, self.outcome_cost(outcome),
                          self.prefill_for(request))
        to = self.ladder.escalate(request, outcome, stub, outcome.reasons)
        if to is None:
            return False
        self.stats.escalated += 1
        ladder_metrics.LADDER.labels(rung=rung, outcome="escalated").inc()
        event.update(kind="escalated", to=to, reasons=outcome.reasons,
                     draft_id=stub["draft_id"])
        return True

    def prefill_for(self, request: GenerationRequest) -> str:
        """The start of the email the prompt wrote for the model (few-shot style), so a
        reviewer starts from a whole draft; empty when the campaign cannot be read."""
        from generation.prompt import build_prompt

        try:
            return build_prompt(request["lead"], self.campaign_for(request), None,
                                self.settings).prefill
        except CampaignError:
            return ""

    def outcome_cost(self, outcome: Outcome) -> float | None:
        """USD of a failed outcome's calls when they are priced per token (the LLM tier)."""
        return None

    def spent_usd(self, outcome: Outcome) -> float:
        """What this request cost on this rung, every attempt counted (the spend ledger)."""
        if outcome.draft is not None:
            return float(outcome.draft["estimated_cost_usd"])
        return estimated_cost_usd(outcome.completions, self.settings.worker.usd_per_vcpu_hour)

    def _dead_letter(self, msg: Message, letter: DeadLetter, event: dict[str, Any]) -> None:
        topic = dlq(msg.topic())
        produce_sync(self.producer, topic, self.codec.encode("DeadLetter", letter, topic=topic),
                     key=msg.key())
        self.stats.dead_letters += 1
        metrics.DEAD_LETTERS.labels(reason=letter["error_type"]).inc()
        event.update(kind="dead_letter", error_type=letter["error_type"], error=letter["error"])
        log.warning("dead letter %s[%d]@%d -> %s: %s: %s", msg.topic(), msg.partition(),
                    msg.offset(), topic, letter["error_type"], letter["error"][:200])

    def close(self) -> None:
        if self._resolver is not None:
            self._resolver.close()
        try:
            self.producer.flush(10)
            self.consumer.close()  # leaves the group now instead of after session.timeout.ms
        except (KafkaException, RuntimeError) as exc:
            log.warning("closing the Kafka clients failed: %s", exc)


def _configured_model(settings: Settings, generator: Generator | BatchedGenerator | None,
                      slots: int) -> LoadedModel:
    """The model settings.model names (or the caller's already loaded ``generator``)."""
    if generator is not None:
        return LoadedModel(generator=generator, model=generator.model, settings=settings,
                           owned=False)
    model = resolve_model(settings)
    return LoadedModel(generator=open_generator(model, settings, slots), model=model,
                       settings=settings)


def loop_width(settings: Settings, generator: Generator | BatchedGenerator) -> int:
    """Requests the consumer loop holds at once: a batched engine's slots plus
    worker.queue_depth waiting in its queue (a slot freed by a finished sequence is refilled at
    the next decode step, not after that request's checks, publish, commit and the next poll);
    one for llama-cpp-python's ``Llama``, which serves one request at a time."""
    if isinstance(generator, BatchedGenerator):
        return generator.slots + settings.worker.queue_depth
    return 1


def engine_stats(holder: ModelHolder) -> EngineStats | None:
    """The champion's batched engine counters (None for ``Llama`` or before a model is in)."""
    loaded = holder.get("champion")
    if loaded is None or not isinstance(loaded.generator, BatchedGenerator):
        return None
    return loaded.generator.stats()


def _follower(settings: Settings, holder: ModelHolder, slots: int,
              on_event: EventHook | None) -> ReleaseFollower | None:
    if not settings.worker.follow_releases:
        return None
    if not settings.redis_url:
        log.warning("worker.follow_releases is on but REDIS_URL is unset: releases are not "
                    "followed, the configured model serves")
        return None
    return ReleaseFollower(settings, holder, slots, on_event)


def run_worker(settings: Settings, stop: threading.Event | None = None,
               max_messages: int | None = None, on_event: EventHook | None = None,
               generator: Generator | BatchedGenerator | None = None) -> WorkerStats:
    """Consume requests of ``settings.worker.tier`` until ``stop`` is set, SIGTERM/SIGINT
    arrives, or ``max_messages`` messages were handled; returns the counts.

    ``generator`` lets a caller that already loaded the model (demo, tests) share it;
    otherwise the configured model is resolved and loaded here. With worker.follow_releases
    (and Redis) the tier's released models replace it: the pointed release at start, then
    every announced one (workers/reload.py). ``on_event`` is called after each commit with a
    dict: kind ("draft" | "dead_letter"), topic, partition, offset, and request_id/lead_id/
    draft_id/error_type/reasons/model_version where known; and from the release follower's
    thread with kind "model_loaded" | "model_error". Kafka and model errors propagate: nothing
    is committed for the message in hand, so it is redelivered.
    """
    with stop_on_signals(stop, "finishing the requests in hand") as stop:
        return _serve(settings, stop, max_messages, on_event, generator)


def _serve(settings: Settings, stop: threading.Event, max_messages: int | None,
           on_event: EventHook | None,
           generator: Generator | BatchedGenerator | None) -> WorkerStats:
    metrics.serve(settings.worker.metrics_port)
    # Requests generated at once: the caller's generator decides, else model.batch_slots.
    slots = getattr(generator, "slots", 1) if generator is not None else settings.model.batch_slots
    holder = ModelHolder()
    follower = _follower(settings, holder, slots, on_event)
    worker: Worker | None = None
    started = time.monotonic()
    try:
        if follower is not None:
            follower.prepare()  # loads the release the pointers name, if any: no double load
        if holder.get("champion") is None:
            holder.install("champion", _configured_model(settings, generator, slots))
        if follower is not None:
            follower.start()
        worker = Worker(settings, holder, on_event)
        worker.campaign_table()  # catch up with the `campaigns` topic before the first request
        with holder.lease() as champion:
            width = loop_width(settings, champion.generator)
            log.info("worker on %s (group %s), model %s %s, %d requests at once", worker.topic,
                     group_id(settings), champion.model.model_id, champion.model.version, width)
        metrics.ENGINE.watch(lambda: engine_stats(holder))
        ConsumerLoop(worker, stop, width, max_messages).run()
    finally:
        if follower is not None:
            follower.stop()
        if worker is not None:
            worker.close()
        holder.close()
        log.info("worker stopped after %.0f s: %s", time.monotonic() - started,
                 worker.stats if worker else "not started")
    return worker.stats
