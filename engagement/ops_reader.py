"""What an operator watches that no KPI counter holds: dead letters per topic and reason,
drafts per escalation rung with their cost, lead-to-draft latency and generation speed.

One background thread tails email.drafts and every dlq.* topic from the beginning, by
assignment (no consumer group, so it never shows up as lag nor takes partitions from anyone),
and keeps running tallies. Drafts are counted once per draft_id (a redelivered duplicate is
not a second draft); latencies are kept for the last ``LATENCY_KEPT`` drafts, so p50/p95 follow
the current load rather than the whole history.
"""

from __future__ import annotations

import collections
import json
import logging
import statistics
import threading
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Consumer, KafkaException, TopicPartition

from outreach.errors import SchemaError
from outreach.kafka import consumer_config
from outreach.settings import Settings
from outreach.topics import DRAFTS, all_topics
from schemas.codec import AvroCodec
from schemas.records import DeadLetter

log = logging.getLogger(__name__)
LATENCY_KEPT = 2000
SEEN_KEPT = 200_000  # draft ids remembered for de-duplication (~20 MB at most)


@dataclass
class RungTally:
    drafts: int = 0
    cost_usd: float = 0.0
    completion_tokens: int = 0
    generation_s: float = 0.0


@dataclass
class OpsTally:
    dead_letters: collections.Counter[tuple[str, str]] = field(
        default_factory=collections.Counter)  # (topic, error_type) -> records
    # campaign -> (topic, error_type) -> records; "-" when the record names none
    campaign_letters: dict[str, collections.Counter[tuple[str, str]]] = field(
        default_factory=dict)
    campaign_drafts: dict[str, RungTally] = field(default_factory=dict)
    rungs: dict[str, RungTally] = field(default_factory=dict)
    latencies_ms: collections.deque[float] = field(
        default_factory=lambda: collections.deque(maxlen=LATENCY_KEPT))

    def latency_quantiles_s(self) -> dict[str, float | None]:
        values = sorted(self.latencies_ms)
        if not values:
            return {"p50": None, "p95": None}
        if len(values) == 1:
            return {"p50": values[0] / 1000, "p95": values[0] / 1000}
        cuts = statistics.quantiles(values, n=100, method="inclusive")
        return {"p50": cuts[49] / 1000, "p95": cuts[94] / 1000}

    def tokens_per_s(self) -> dict[str, float | None]:
        # Tokens over generation time within each draft (its own attempts); concurrent drafts
        # overlap, so this is per-request speed, not the fleet's throughput.
        return {rung: (t.completion_tokens / t.generation_s if t.generation_s else None)
                for rung, t in self.rungs.items()}

    def as_dict(self) -> dict[str, Any]:
        return {
            "dead_letters": [{"topic": t, "reason": r, "count": n}
                             for (t, r), n in sorted(self.dead_letters.items())],
            "rungs": {r: vars(t).copy() for r, t in sorted(self.rungs.items())},
            "campaigns": {c: {"drafts": vars(self.campaign_drafts.get(c, RungTally())).copy(),
                              "dead_letters": [
                                  {"topic": topic, "reason": reason, "count": n} for
                                  (topic, reason), n in
                                  self.campaign_letters.get(c, collections.Counter()).most_common()]}
                          for c in sorted(set(self.campaign_drafts) | set(self.campaign_letters))},
            "lead_to_draft_s": self.latency_quantiles_s(),
            "tokens_per_s": self.tokens_per_s(),
        }


class OpsReader:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.codec = AvroCodec(registry_url=settings.kafka.schema_registry_url)
        self.tally = OpsTally()
        self._lock = threading.Lock()
        self._seen: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ops-reader", daemon=True)

    def start(self) -> OpsReader:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return self.tally.as_dict()

    def _run(self) -> None:
        topics = [DRAFTS, *(t for t in all_topics() if t.startswith("dlq."))]
        try:
            consumer = Consumer(consumer_config(self.settings, "ops-reader",
                                                **{"enable.auto.commit": False}))
        except KafkaException as exc:
            log.warning("operator view disabled: %s", exc)
            return
        try:
            while not self._stop.is_set():
                try:
                    metadata = consumer.list_topics(timeout=5)
                    consumer.assign([TopicPartition(t, p, 0) for t in topics
                                     if t in metadata.topics
                                     for p in metadata.topics[t].partitions])
                    break
                except KafkaException as exc:
                    log.warning("operator view waits for the broker: %s", exc)
                    self._stop.wait(2)
            while not self._stop.is_set():
                for msg in consumer.consume(500, timeout=0.5):
                    if not msg.error():
                        self._count(msg.topic(), msg.value())
        finally:
            consumer.close()

    def _campaign_of(self, letter: DeadLetter) -> str:
        """The campaign a dead letter's record names, "-" when it cannot be read (a malformed
        record is exactly what dead letters hold, so every failure here is expected)."""
        raw, source = letter.get("value"), letter.get("source_topic", "")
        if not raw:
            return "-"
        try:
            found = json.loads(raw)
            if isinstance(found, dict):
                lead = found.get("lead") if isinstance(found.get("lead"), dict) else {}
                return str(found.get("campaign") or lead.get("campaign") or "-")
        except ValueError:  # UnicodeDecodeError and JSONDecodeError alike
            pass
        schema = ("Lead" if source.startswith("leads") else "EmailDraft" if source == DRAFTS
                  else "GenerationRequest" if source.startswith("email.requests") else None)
        if schema is None:
            return "-"
        try:
            record = self.codec.decode(raw, schema)
        except SchemaError:
            return "-"
        return str(record.get("campaign") or record.get("lead", {}).get("campaign") or "-")

    def _count(self, topic: str, value: bytes) -> None:
        try:
            if topic != DRAFTS:
                letter = self.codec.decode(value, "DeadLetter")
            else:
                record = self.codec.decode(value, "EmailDraft")
        except SchemaError:
            return  # the sender dead-letters undecodable drafts; it shows up there
        with self._lock:
            if topic != DRAFTS:
                self.tally.dead_letters[(topic, letter["error_type"])] += 1
                self.tally.campaign_letters.setdefault(
                    self._campaign_of(letter), collections.Counter())[
                        (topic, letter["error_type"])] += 1
                return
            if record["draft_id"] in self._seen:
                return
            self._seen[record["draft_id"]] = None
            if len(self._seen) > SEEN_KEPT:
                self._seen.popitem(last=False)
            rung = record.get("rung") or "miniature"
            tally = self.tally.rungs.setdefault(rung, RungTally())
            tally.drafts += 1
            tally.cost_usd += record["estimated_cost_usd"]
            tally.completion_tokens += record["completion_tokens"]
            tally.generation_s += record["latency_ms"] / 1000
            per = self.tally.campaign_drafts.setdefault(record["campaign"], RungTally())
            per.drafts += 1
            per.cost_usd += record["estimated_cost_usd"]
            self.tally.latencies_ms.append(record["lead_to_draft_ms"])
