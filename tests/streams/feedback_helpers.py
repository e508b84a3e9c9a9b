"""Helpers shared by the feedback-loop integration tests."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import redis.asyncio as aioredis
from confluent_kafka import Consumer

from outreach.kafka import consumer_config
from outreach.settings import Settings
from streams.kpi import KpiStore


def tuned(settings: Settings, **sections: dict[str, Any]) -> Settings:
    """Settings with some fields of nested sections replaced (feedback={...}, abtest={...})."""
    update = {name: getattr(settings, name).model_copy(update=values)
              for name, values in sections.items()}
    return settings.model_copy(update=update)


def kpi_totals(settings: Settings, dims: list[str] | None = None) -> dict[str, dict[str, float]]:
    async def read() -> dict[str, dict[str, float]]:
        client = aioredis.Redis.from_url(settings.redis_url)
        try:
            store = KpiStore(client, settings.redis.key_prefix, settings.feedback.kpi_window_s,
                             settings.feedback.kpi_windows_kept, 60)
            return await store.totals(dims)
        finally:
            await client.aclose()
    return asyncio.run(read())


class TopicReader:
    """Reads topics from the beginning with a fresh group; keeps everything it saw."""

    def __init__(self, settings: Settings, topics: list[str]) -> None:
        self.consumer = Consumer(consumer_config(settings, f"probe-{uuid.uuid4().hex[:8]}"))
        self.consumer.subscribe(topics)
        self.messages: list[Any] = []

    def until(self, done, timeout_s: float, check=None) -> bool:  # noqa: ANN001
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for msg in self.consumer.consume(200, timeout=0.5):
                if not msg.error():
                    self.messages.append(msg)
            if check is not None:
                check()
            if done(self.messages):
                return True
        return False

    def close(self) -> None:
        self.consumer.close()
