"""DeadLetter records: what every stage sends to dlq.<topic> instead of crashing."""

from __future__ import annotations

import time
from typing import Any


def dead_letter(*, source_topic: str, partition: int, offset: int, key: bytes | None,
                value: bytes | None, error_type: str, error: str, stage: str,
                request_id: str | None = None, lead_id: str | None = None) -> dict[str, Any]:
    """A DeadLetter dict (schemas/avro/dead_letter.avsc) carrying the raw bytes untouched."""
    if isinstance(key, str):
        key = key.encode()
    return {"source_topic": source_topic, "source_partition": int(partition),
            "source_offset": int(offset), "key": key, "value": value,
            "error_type": error_type, "error": error[:2000], "stage": stage,
            "request_id": request_id, "lead_id": lead_id,
            "failed_at": int(time.time() * 1000)}
