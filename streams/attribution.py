"""The attribution join: engagement events meet their draft in a Redis table keyed by draft_id.

Why Redis and not a Faust table: drafts come from workers and events from ESP bridges, with
different producers and partitioners, so the two topics are not guaranteed co-partitioned;
expiry must run from a timer, where Faust forbids table writes ("Cannot modify table outside of
agent/stream"); and the dashboard and routers read the same state. Each step is one Lua script,
so a draft and an early event arriving at the same moment on two workers cannot miss each other.

Keys (``<prefix>:fb:``):
    draft:<draft_id>    JSON summary of the draft (lead, tier, model, variant, prompt hash...)
    held:<draft_id>     LIST of events that arrived before their draft (JSON with the raw bytes)
    held-due            ZSET draft_id -> deadline (ms) of its oldest held event
    open                ZSET draft_id -> end of its outcome window (ms); see streams/feedback.py
    lead:<request_id>   JSON Lead from email.requests.*, for FeedbackExamples
"""

from __future__ import annotations

import base64
import json
from typing import Any

import redis
import redis.asyncio as aioredis

from outreach.errors import StoreError
from schemas.records import EmailDraft, EngagementEvent, Lead

DRAFT_FIELDS = ("draft_id", "request_id", "lead_id", "campaign", "to_email", "to_name",
                "company", "subject", "body", "tier", "variant", "model_id", "model_version",
                "prompt_hash", "estimated_cost_usd", "created_at", "rung", "campaign_version")

# KEYS: draft, held, held-due, open. ARGV: draft json, ttl s, draft_id, outcome deadline ms.
# Returns {1 if the draft is new else 0, held entries...}. The held list is deleted only after
# its outputs are acknowledged (drop_held), so a crash in between replays it.
PUT_DRAFT = """
local new = redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2])
local held = redis.call('LRANGE', KEYS[2], 0, -1)
redis.call('ZREM', KEYS[3], ARGV[3])
if new then redis.call('ZADD', KEYS[4], 'NX', ARGV[4], ARGV[3]) end
local out = {new and 1 or 0}
for _, entry in ipairs(held) do table.insert(out, entry) end
return out
"""
# KEYS: draft, held, held-due. ARGV: entry json, ttl s, draft_id, deadline ms.
# Returns the draft JSON when it is known, else holds the entry and returns nil.
HOLD_OR_GET = """
local draft = redis.call('GET', KEYS[1])
if draft then return draft end
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[2])
redis.call('ZADD', KEYS[3], 'NX', ARGV[4], ARGV[3])
return false
"""
# KEYS: held-due, held. ARGV: draft_id, now ms, lease ms. Leases one expired draft's held
# events to this worker (one winner); they are deleted by drop_expired after the dead letters
# are acknowledged, and a worker that dies mid-way is replaced when the lease ends.
TAKE_EXPIRED = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) > tonumber(ARGV[2]) then return {} end
redis.call('ZADD', KEYS[1], tonumber(ARGV[2]) + tonumber(ARGV[3]), ARGV[1])
return redis.call('LRANGE', KEYS[2], 0, -1)
"""
EXPIRY_LEASE_MS = 60_000


def draft_summary(draft: EmailDraft) -> dict[str, Any]:
    return {name: draft.get(name) for name in DRAFT_FIELDS}


def held_entry(event: EngagementEvent, raw: bytes | None, topic: str, partition: int,
               offset: int, key: bytes | None, held_at_ms: int) -> str:
    """A held event with what its dead letter needs if its draft never comes."""
    return json.dumps({"event": event, "topic": topic, "partition": partition, "offset": offset,
                       "key": base64.b64encode(key).decode() if key else None,
                       "raw": base64.b64encode(raw).decode() if raw else None,
                       "held_at": held_at_ms})


def decode_held(entry: bytes | str) -> dict[str, Any]:
    held = json.loads(entry)
    for name in ("raw", "key"):
        held[name] = base64.b64decode(held[name]) if held[name] else None
    return held


class JoinStore:
    """Async Redis side of the join, shared by every feedback worker."""

    def __init__(self, client: aioredis.Redis, key_prefix: str, ttl_s: int) -> None:
        self.redis = client
        self.prefix = f"{key_prefix}:fb"
        self.ttl_s = ttl_s
        self._put = client.register_script(PUT_DRAFT)
        self._hold = client.register_script(HOLD_OR_GET)
        self._take = client.register_script(TAKE_EXPIRED)

    def key(self, kind: str, ident: str = "") -> str:
        return f"{self.prefix}:{kind}:{ident}" if ident else f"{self.prefix}:{kind}"

    async def put_draft(self, draft: EmailDraft, outcome_deadline_ms: int
                        ) -> tuple[bool, list[dict[str, Any]]]:
        """Store a draft; returns (new?, the events that were waiting for it)."""
        draft_id = draft["draft_id"]
        try:
            result = await self._put(
                keys=[self.key("draft", draft_id), self.key("held", draft_id),
                      self.key("held-due"), self.key("open")],
                args=[json.dumps(draft_summary(draft)), self.ttl_s, draft_id,
                      outcome_deadline_ms])
        except redis.RedisError as exc:
            raise StoreError(f"cannot store draft {draft_id}: {exc}") from exc
        return bool(result[0]), [decode_held(entry) for entry in result[1:]]

    async def drop_held(self, draft_id: str) -> None:
        try:
            await self.redis.delete(self.key("held", draft_id))
        except redis.RedisError as exc:
            raise StoreError(f"cannot drop held events of {draft_id}: {exc}") from exc

    async def hold_or_get(self, draft_id: str, entry: str, deadline_ms: int
                          ) -> dict[str, Any] | None:
        """The event's draft, or None after holding the event until the draft comes."""
        try:
            found = await self._hold(
                keys=[self.key("draft", draft_id), self.key("held", draft_id),
                      self.key("held-due")], args=[entry, self.ttl_s, draft_id, deadline_ms])
        except redis.RedisError as exc:
            raise StoreError(f"cannot join event to draft {draft_id}: {exc}") from exc
        return json.loads(found) if found else None

    async def get_draft(self, draft_id: str) -> dict[str, Any] | None:
        try:
            found = await self.redis.get(self.key("draft", draft_id))
        except redis.RedisError as exc:
            raise StoreError(f"cannot read draft {draft_id}: {exc}") from exc
        return json.loads(found) if found else None

    async def take_expired(self, now_ms: int, limit: int = 500
                           ) -> list[tuple[str, list[dict[str, Any]]]]:
        """Held events whose window passed, leased to this worker: [(draft_id, entries)]."""
        try:
            due = await self.redis.zrangebyscore(self.key("held-due"), "-inf", now_ms,
                                                 start=0, num=limit)
            out = []
            for raw_id in due:
                draft_id = raw_id.decode()
                entries = await self._take(keys=[self.key("held-due"),
                                                 self.key("held", draft_id)],
                                           args=[draft_id, now_ms, EXPIRY_LEASE_MS])
                if entries:
                    out.append((draft_id, [decode_held(e) for e in entries]))
            return out
        except redis.RedisError as exc:
            raise StoreError(f"cannot expire held events: {exc}") from exc

    async def drop_expired(self, draft_id: str) -> None:
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.zrem(self.key("held-due"), draft_id)
                pipe.delete(self.key("held", draft_id))
                await pipe.execute()
        except redis.RedisError as exc:
            raise StoreError(f"cannot drop expired events of {draft_id}: {exc}") from exc

    async def put_lead(self, request_id: str, lead: Lead) -> None:
        try:
            await self.redis.set(self.key("lead", request_id), json.dumps(lead), ex=self.ttl_s)
        except redis.RedisError as exc:
            raise StoreError(f"cannot store lead of {request_id}: {exc}") from exc

    async def get_lead(self, request_id: str) -> Lead | None:
        try:
            found = await self.redis.get(self.key("lead", request_id))
        except redis.RedisError as exc:
            raise StoreError(f"cannot read lead of {request_id}: {exc}") from exc
        return json.loads(found) if found else None
