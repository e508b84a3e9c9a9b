"""DeadLetter records: what every stage sends to dlq.<topic> instead of crashing.

Built here, beside the contract, so the builder is checked against schemas.records.DeadLetter."""

from __future__ import annotations

import time
from typing import Any

from schemas.records import DeadLetter

# Under the 1 MB default message size (broker message.max.bytes, producer max.request.size)
# with room for the envelope (error <= 2,000 chars, ids, offsets).
MAX_VALUE_BYTES = 900_000


def dead_letter(*, source_topic: str, partition: int, offset: int, key: bytes | None,
                value: bytes | None, error_type: str, error: str, stage: str,
                request_id: str | None = None, lead_id: str | None = None) -> DeadLetter:
    """A DeadLetter record (schemas/avro/dead_letter.avsc) carrying the raw bytes untouched."""
    if isinstance(key, str):
        key = key.encode()
    if value is not None and len(value) > MAX_VALUE_BYTES:
        # A source record near Kafka's 1 MB message limit plus this envelope would exceed it:
        # the dead letter could never be produced and its batch would be retried forever.
        error = f"{error[:1900]} [value truncated from {len(value)} to {MAX_VALUE_BYTES} bytes]"
        value = value[:MAX_VALUE_BYTES]
    return {"source_topic": source_topic, "source_partition": int(partition),
            "source_offset": int(offset), "key": key, "value": value,
            "error_type": error_type, "error": error[:2000], "stage": stage,
            "request_id": request_id, "lead_id": lead_id,
            "failed_at": int(time.time() * 1000)}


def from_message(msg: Any, *, stage: str, error_type: str, error: str,
                 request_id: str | None = None, lead_id: str | None = None) -> DeadLetter:
    """The DeadLetter of a consumed confluent-kafka Message (topic, partition, offset and raw
    key/value bytes taken from it)."""
    return dead_letter(source_topic=msg.topic(), partition=msg.partition(), offset=msg.offset(),
                       key=msg.key(), value=msg.value(), error_type=error_type, error=error,
                       stage=stage, request_id=request_id, lead_id=lead_id)
