"""Issue 23: an uncached snapshot opened Kafka consumers per request. The operator view reads
consumer lag with one short-lived consumer per pipeline group; before the fix every request
that found the cache expired ran its own round, so a burst of dashboard refreshes or scrapes
opened (requests x groups) consumers at once.

Real uvicorn server, the real broker and Redis. The consumers are counted as they are built
(a subclass that counts, then builds the real consumer): none of them joins a group (the lag
round only reads committed offsets, the ops reader assigns partitions), so the broker has no
group membership that would show them.
"""

from __future__ import annotations

import asyncio
import collections
import time

import httpx
import pytest
from confluent_kafka import Consumer

from engagement import ops_reader, snapshot
from engagement.app import create_app
from engagement.operator import CACHE_S
from engagement.server import BackgroundServer
from engagement.snapshot import lag_groups
from outreach.stack import free_port

pytestmark = pytest.mark.integration
TOKEN = "snapshot-token-0123456789"
BURST = 8  # requests at once, each finding nothing cached


def count_consumers(monkeypatch: pytest.MonkeyPatch) -> collections.Counter[str]:
    built: collections.Counter[str] = collections.Counter()

    def counting(kind: str) -> type[Consumer]:
        class Counted(Consumer):
            def __init__(self, *args, **kwargs) -> None:
                built[kind] += 1
                super().__init__(*args, **kwargs)
        return Counted

    monkeypatch.setattr(ops_reader, "Consumer", counting("ops reader"))
    monkeypatch.setattr(snapshot, "Consumer", counting("lag"))
    return built


async def burst(url: str) -> list[int]:
    async with httpx.AsyncClient(base_url=url, timeout=120,
                                 headers={"authorization": f"Bearer {TOKEN}"}) as http:
        replies = await asyncio.gather(*(http.get("/api/snapshot") for _ in range(BURST)))
    return [r.status_code for r in replies]


def test_a_burst_of_uncached_snapshots_opens_one_round_of_consumers(settings, monkeypatch):
    built = count_consumers(monkeypatch)
    groups = len(lag_groups(settings))
    with BackgroundServer(settings, free_port(), app=create_app(settings, {"op": TOKEN})) as url:
        first = asyncio.run(burst(url))  # a fresh app: nothing cached, the reader not started
        after_first = built["lag"]
        time.sleep(CACHE_S + 0.5)  # the cache has expired
        second = asyncio.run(burst(url))
        after_second = built["lag"]
    assert first == [200] * BURST and second == [200] * BURST
    # One lag round per expiry, whatever the number of requests waiting for it (before the
    # fix: up to BURST rounds each time)...
    assert after_first == groups, (after_first, groups)
    assert after_second == 2 * groups, (after_second, groups)
    # ...and one ops reader for the app's life, however many requests found it unstarted.
    assert built["ops reader"] == 1
