"""Synthetic engagement: events no recipient caused, marked so no decision counts them.

Two kinds:
- ``simulated``: the engagement simulator's events (EngagementEvent ``source`` "simulator").
  Counted apart and left out of A/B decisions and guardrails unless
  ``abtest.include_simulated`` (``demo --feedback`` sets it: the simulator is all it has).
- ``self_test``: an event the system caused to check itself (the demo's one-click
  unsubscribe). Its event_id is registered in Redis *before* the request is made, by a process
  that holds the stack's Redis credentials: the public endpoint cannot tell a test click from a
  recipient's, and must not trust a flag the client sends (anyone could hide an unsubscribe).
  Never counted in decisions; its real effect (the address is suppressed) still happens.
"""

from __future__ import annotations

from typing import Any

import redis
import redis.asyncio as aioredis

from outreach.errors import StoreError

SIMULATED, SELF_TEST = "simulated", "self_test"
ORIGINS = (SIMULATED, SELF_TEST)
SIMULATOR_SOURCES = frozenset({"simulator"})
SELF_TEST_TTL_S = 7 * 24 * 3600


def self_test_key(key_prefix: str) -> str:
    return f"{key_prefix}:fb:self-test"


def mark_self_test(client: redis.Redis, key_prefix: str, event_id: str) -> None:
    """Register ``event_id`` as the system's own check (call before causing the event)."""
    try:
        with client.pipeline(transaction=True) as pipe:
            pipe.sadd(self_test_key(key_prefix), event_id)
            pipe.expire(self_test_key(key_prefix), SELF_TEST_TTL_S)
            pipe.execute()
    except redis.RedisError as exc:
        raise StoreError(f"cannot mark {event_id} as a self-test: {exc}") from exc


async def event_origin(client: aioredis.Redis, key_prefix: str, event: dict[str, Any]) -> str:
    """"" for a real event, else ``simulated`` or ``self_test``."""
    if (event.get("source") or "") in SIMULATOR_SOURCES:
        return SIMULATED
    try:
        if await client.sismember(self_test_key(key_prefix), event["event_id"]):
            return SELF_TEST
    except redis.RedisError as exc:
        raise StoreError(f"cannot read the self-test marks: {exc}") from exc
    return ""


def included(include_simulated: bool) -> tuple[str, ...]:
    """The synthetic origins a decision counts (never the self-test)."""
    return (SIMULATED,) if include_simulated else ()
