"""The engagement SIMULATOR: reads drafts, emits simulated engagement events. Nothing is real.

It stands in for recipients and an ESP in the demo and the tests: for every draft on
email.drafts it asks the audience model (engagement/audience.py) what the simulated recipient
does and publishes those EngagementEvents on engagement.events (source "simulator") after
their simulated delays, with a share sent twice as ESP retries do. Leads come from
email.requests.* (scores and segments are not on the draft); a draft waits up to
``LEAD_WAIT_S`` for its request so the reactions do not depend on read order.

Offsets are committed only once every event of the drafts read before has been acknowledged.
"""

from __future__ import annotations

import hashlib
import heapq
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from confluent_kafka import Consumer, KafkaException, TopicPartition
from prometheus_client import Counter, start_http_server

from engagement.audience import AudienceModel, Reaction
from outreach.errors import KafkaError, SchemaError
from outreach.kafka import consumer_config, make_producer
from outreach.settings import Settings
from outreach.shutdown import stop_on_signals
from outreach.topics import DRAFTS, ENGAGEMENT, TIERS, requests_topic
from schemas.codec import AvroCodec
from schemas.records import EmailDraft, EngagementEvent, Lead
from streams.feedback import lead_from_draft

log = logging.getLogger(__name__)
LEAD_WAIT_S = 5.0
LEADS_KEPT = 100_000  # request_id -> lead cache, ~50 MB at most
MAX_REACTIONS = 4  # delivered, opened, clicked, replied/unsubscribed/complained
SIMULATED = Counter("outreach_simulator_events_total", "Simulated engagement events", ["type"])


@dataclass
class SimulatorStats:
    drafts: int = 0
    events: int = 0
    duplicates_sent: int = 0
    by_type: dict[str, int] = field(default_factory=dict)
    true_labels: dict[str, int] = field(default_factory=dict)


def event_id(draft_id: str, reaction: Reaction, index: int) -> str:
    return "sim-" + hashlib.sha256(f"{draft_id}\x1f{reaction.type}\x1f{index}".encode()
                                   ).hexdigest()[:24]


class EngagementSimulator:
    def __init__(self, settings: Settings, group_id: str | None = None) -> None:
        self.settings = settings
        self.cfg = settings.simulator
        self.model = AudienceModel(self.cfg)
        self.codec = AvroCodec(registry_url=settings.kafka.schema_registry_url)
        self.stats = SimulatorStats()
        self._leads: OrderedDict[str, Lead] = OrderedDict()
        self._waiting: list[tuple[float, int, EmailDraft]] = []  # (give-up time, n, draft)
        self._due: list[tuple[float, int, bytes, bytes]] = []  # (when, n, key, value)
        self._batches: list[tuple[float, list[TopicPartition]]] = []
        self._n = 0
        group = group_id or f"{settings.kafka.group_prefix}-simulator"
        try:
            self._consumer = Consumer(consumer_config(settings, group))
            self._consumer.subscribe([DRAFTS, *(requests_topic(t) for t in TIERS)])
        except KafkaException as exc:
            raise KafkaError(f"simulator cannot subscribe: {exc}") from exc
        self._producer = make_producer(settings)

    def _next(self) -> int:
        self._n += 1
        return self._n

    def run(self, stop: threading.Event, max_drafts: int | None = None) -> SimulatorStats:
        """Simulate until ``stop`` is set (or ``max_drafts`` drafts are fully emitted)."""
        try:
            while not stop.is_set():
                self.step()
                if max_drafts is not None and self.stats.drafts >= max_drafts and not (
                        self._due or self._waiting):
                    break
        finally:
            self.close()
        return self.stats

    def step(self, timeout_s: float = 0.2) -> None:
        try:
            messages = self._consumer.consume(num_messages=500, timeout=timeout_s)
        except KafkaException as exc:
            raise KafkaError(f"simulator cannot read: {exc}") from exc
        now = time.monotonic()
        latest: dict[tuple[str, int], int] = {}
        for msg in messages:
            if msg.error():
                continue
            latest[(msg.topic(), msg.partition())] = msg.offset() + 1
            self._read(msg.topic(), msg.value(), now)
        self._schedule_waiting(now)
        if latest:
            # A draft read now has all its events out by: the lead wait plus at most
            # MAX_REACTIONS cumulative delays. Its offsets are committed after that.
            done_by = now + LEAD_WAIT_S + MAX_REACTIONS * self.cfg.max_delay_s + 0.1
            self._batches.append((done_by, [TopicPartition(t, p, o)
                                            for (t, p), o in latest.items()]))
        self._emit_due(time.monotonic())

    def _read(self, topic: str, value: bytes | None, now: float) -> None:
        try:
            if topic == DRAFTS:
                draft = self.codec.decode(value or b"", "EmailDraft")
                heapq.heappush(self._waiting, (now + LEAD_WAIT_S, self._next(), draft))
            else:
                request = self.codec.decode(value or b"", "GenerationRequest")
                self._leads[request["request_id"]] = request["lead"]
                if len(self._leads) > LEADS_KEPT:
                    self._leads.popitem(last=False)
        except SchemaError as exc:
            log.warning("simulator skips an undecodable %s record: %s", topic, exc)

    def _schedule_waiting(self, now: float) -> None:
        still = []
        for give_up, n, draft in self._waiting:
            lead = self._leads.get(draft["request_id"])
            if lead is None and give_up > now:
                still.append((give_up, n, draft))
                continue
            self._schedule(draft, lead or lead_from_draft(draft), now)
        heapq.heapify(still)
        self._waiting = still

    def _schedule(self, draft: EmailDraft, lead: Lead, now: float) -> None:
        self.stats.drafts += 1
        rng = self.model.rng(draft["draft_id"] + ":esp")
        for index, reaction in enumerate(self.model.react(draft, lead)):
            event: EngagementEvent = {
                     "event_id": event_id(draft["draft_id"], reaction, index),
                     "draft_id": draft["draft_id"], "type": reaction.type,
                     "email": draft["to_email"], "reply_text": reaction.reply_text,
                     "url": reaction.url, "source": "simulator",
                     "occurred_at": int(time.time() * 1000 + reaction.delay_s * 1000)}
            value = self.codec.encode("EngagementEvent", event, topic=ENGAGEMENT)
            key = draft["draft_id"].encode()
            copies = 2 if rng.random() < self.cfg.duplicate_rate else 1
            for _ in range(copies):
                heapq.heappush(self._due, (now + reaction.delay_s, self._next(), key, value))
            self.stats.duplicates_sent += copies - 1
            self.stats.by_type[reaction.type] = self.stats.by_type.get(reaction.type, 0) + 1
            if reaction.true_label:
                self.stats.true_labels[reaction.true_label] = \
                    self.stats.true_labels.get(reaction.true_label, 0) + 1

    def _emit_due(self, now: float) -> None:
        sent = 0
        while self._due and self._due[0][0] <= now:
            _, _, key, value = heapq.heappop(self._due)
            self._producer.produce(ENGAGEMENT, key=key, value=value)
            sent += 1
        if sent:
            if self._producer.flush(30):
                raise KafkaError("simulated events were not acknowledged within 30 s")
            self.stats.events += sent
            SIMULATED.labels("any").inc(sent)
        while self._batches and self._batches[0][0] <= now:
            _, offsets = self._batches.pop(0)
            try:
                self._consumer.commit(offsets=offsets, asynchronous=False)
            except KafkaException as exc:
                log.warning("simulator commit failed (records will be re-read): %s", exc)

    def close(self) -> None:
        self._producer.flush(10)
        if not self._due and not self._waiting:  # everything read was emitted: commit it all
            self._emit_due(float("inf"))
        self._consumer.close()


def simulate_main(settings: Settings, stop: threading.Event | None = None,
                  max_drafts: int | None = None) -> SimulatorStats:
    """Run the engagement simulator until ``stop`` (``outreach simulate``)."""
    if settings.simulator.metrics_port:
        start_http_server(settings.simulator.metrics_port, addr=settings.metrics_host)
    with stop_on_signals(stop, "finishing the batch") as stop:  # then commit and exit
        log.warning("ENGAGEMENT SIMULATOR running (seed %d): events on %s are simulated, not "
                    "real", settings.simulator.seed, ENGAGEMENT)
        return EngagementSimulator(settings).run(stop, max_drafts=max_drafts)

