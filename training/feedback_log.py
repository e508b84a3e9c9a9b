"""Read training.feedback for a retraining run: every FeedbackExample created after the last
release, written to a JSONL file that training.dataset reads (and that the run keeps, so the
dataset can be rebuilt from the run folder alone).

Reads each partition from its first offset with assign() and no consumer group: a run commits
nothing, so two runs (or a re-run after a failed stage) see the same records. The high
watermarks taken at the start are only a lower bound of where to stop: the embedded broker
(Tansu) was measured reporting 1 for a partition holding offsets 0 and 1, so the read goes on
until every partition reached its watermark and then IDLE_S passes without a new record. Filtering by created_at rather than offsets keeps the cut-off
meaningful across topic re-creation; at ~1 KB per example a day of 100k drafts is ~100 MB read.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition

from outreach.errors import KafkaError, SchemaError
from outreach.kafka import consumer_config
from outreach.settings import Settings
from outreach.topics import FEEDBACK
from schemas.codec import AvroCodec

IDLE_S = 1.5  # a local broker answers a fetch in milliseconds; 1.5 s of nothing means the end


def export_feedback(settings: Settings, since_ms: int, out: Path) -> dict[str, Any]:
    """Write FeedbackExamples with created_at > ``since_ms`` to ``out``; return the counts."""
    codec = AvroCodec(registry_url=settings.kafka.schema_registry_url)
    consumer = Consumer(consumer_config(settings, f"retrain-{uuid.uuid4().hex[:8]}"))
    counts = {"read": 0, "kept": 0, "older": 0, "undecodable": 0}
    try:
        try:
            meta = consumer.list_topics(FEEDBACK, timeout=10)
            partitions = sorted(meta.topics[FEEDBACK].partitions)
            ends = {p: consumer.get_watermark_offsets(TopicPartition(FEEDBACK, p), timeout=10)[1]
                    for p in partitions}
        except (KafkaException, KeyError) as exc:
            raise KafkaError(f"cannot read {FEEDBACK} metadata: {exc}") from exc
        pending = {p for p, end in ends.items() if end > 0}
        # Every partition, not only those with a watermark > 0: a stale watermark must not hide
        # a partition's records.
        consumer.assign([TopicPartition(FEEDBACK, p, OFFSET_BEGINNING) for p in partitions])
        deadline = time.monotonic() + settings.retrain.feedback_timeout_s
        last_record = time.monotonic()
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w") as handle:
            while time.monotonic() < deadline:
                if not pending and time.monotonic() - last_record >= IDLE_S:
                    break
                for msg in consumer.consume(500, timeout=0.25):
                    if msg.error():
                        continue
                    last_record = time.monotonic()
                    if msg.offset() + 1 >= ends[msg.partition()]:
                        pending.discard(msg.partition())
                    counts["read"] += 1
                    try:
                        example = codec.decode(msg.value(), "FeedbackExample")
                    except SchemaError:
                        counts["undecodable"] += 1  # the feedback app dead-letters its own
                        continue
                    if example["created_at"] <= since_ms:
                        counts["older"] += 1
                        continue
                    handle.write(json.dumps(example, default=_bytes) + "\n")
                    counts["kept"] += 1
        if pending:
            raise KafkaError(f"{FEEDBACK} was not read to its end within "
                             f"{settings.retrain.feedback_timeout_s:.0f} s (partitions "
                             f"{sorted(pending)} unfinished)")
    finally:
        consumer.close()
    return counts


def _bytes(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise TypeError(f"not JSON serializable: {type(value).__name__}")
