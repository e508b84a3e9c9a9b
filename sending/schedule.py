"""Scheduled drafts, durable in Redis: a draft waits here from the moment the engine accepts
it (and the drafts topic's offset is committed) until it is sent or dropped, so a restart of
every sender process loses none.

Two kinds of queue, sorted sets of draft ids scored by the virtual ms the draft may leave
(the opening of the recipient's window):
    P:q:c:<campaign>   drafts no mailbox owns yet (first emails): any mailbox of the
                       campaign's pool with a free slot takes the next due one (the rotation)
    P:q:m:<address>    follow-ups of a thread that mailbox started (``P:pin:<sequence>``),
                       so a thread stays with one sender; failover moves them (``move``)
A taken draft sits in P:lease (score: when the lease ends) until it is settled; a process that
dies mid-send leaves a lease that ``recover`` puts back in its queue (the sent-claim of
outreach/store.py keeps that from becoming a second email).

Keys besides (``P`` = ``<redis.key_prefix>:send``): P:data (draft bytes), P:meta (what the
engine needs without decoding: campaign, step, lead, recipient zone and country), P:where (the
queue a draft belongs to), P:seen:<draft_id> (accepted once), P:queues (every queue key).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import redis

from outreach.errors import StoreError
from sending.keys import text

PIN_TTL_S = 120 * 86_400  # as long as sequence state lives (sequences.state_ttl_days)
SEEN_TTL_S = 30 * 86_400

# KEYS: seen, queue, data, meta, where, queues. ARGV: id, score, raw, meta, seen ttl.
_ACCEPT = """
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', tonumber(ARGV[5])) then return 0 end
redis.call('HSET', KEYS[3], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[4], ARGV[1], ARGV[4])
redis.call('HSET', KEYS[5], ARGV[1], KEYS[2])
redis.call('ZADD', KEYS[2], tonumber(ARGV[2]), ARGV[1])
redis.call('SADD', KEYS[6], KEYS[2])
return 1
"""
# KEYS: queue, lease. ARGV: id, lease_until. 1 when this caller now holds the draft.
_TAKE = """
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('ZADD', KEYS[2], tonumber(ARGV[2]), ARGV[1])
return 1
"""
# KEYS: lease, where. ARGV: id, score. Back into its queue (a send that must wait).
_REQUEUE = """
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
local queue = redis.call('HGET', KEYS[2], ARGV[1])
if not queue then return 0 end
redis.call('ZADD', queue, tonumber(ARGV[2]), ARGV[1])
return 1
"""
# KEYS: from, to, where, pin. ARGV: id, address, pin ttl. The draft changes queue (failover).
_MOVE = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], score, ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], KEYS[2])
if KEYS[4] ~= '' then redis.call('SET', KEYS[4], ARGV[2], 'EX', tonumber(ARGV[3])) end
return 1
"""


@dataclass(frozen=True)
class Scheduled:
    draft_id: str
    score_ms: int
    queue: str
    meta: dict[str, Any]


class Schedule:
    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.redis = client
        self.prefix = prefix
        self._accept = client.register_script(_ACCEPT)
        self._take = client.register_script(_TAKE)
        self._requeue = client.register_script(_REQUEUE)
        self._move = client.register_script(_MOVE)

    # -- keys ---------------------------------------------------------------------------------
    def campaign_queue(self, campaign: str) -> str:
        return f"{self.prefix}:q:c:{campaign}"

    def mailbox_queue(self, address: str) -> str:
        return f"{self.prefix}:q:m:{address}"

    def pin_key(self, sequence: str) -> str:
        return f"{self.prefix}:pin:{sequence}"

    @property
    def lease_key(self) -> str:
        return f"{self.prefix}:lease"

    # -- writes -------------------------------------------------------------------------------
    def accept(self, draft_id: str, queue: str, score_ms: int, raw: bytes,
               meta: dict[str, Any]) -> bool:
        """Queue a draft once; False when this draft id was accepted before (a redelivery)."""
        keys = [f"{self.prefix}:seen:{draft_id}", queue, f"{self.prefix}:data",
                f"{self.prefix}:meta", f"{self.prefix}:where", f"{self.prefix}:queues"]
        return bool(self._run(self._accept, keys, [draft_id, score_ms, raw, json.dumps(meta),
                                                   SEEN_TTL_S]))

    def forget_seen(self, draft_id: str) -> None:
        """Let a draft be accepted again (one the contact cap handed back to the scheduler)."""
        self._call("delete", f"{self.prefix}:seen:{draft_id}")

    def take(self, item: Scheduled, lease_until_ms: int) -> bool:
        return bool(self._run(self._take, [item.queue, self.lease_key],
                              [item.draft_id, lease_until_ms]))

    def requeue(self, draft_id: str, score_ms: int) -> bool:
        return bool(self._run(self._requeue, [self.lease_key, f"{self.prefix}:where"],
                              [draft_id, score_ms]))

    def reschedule(self, item: Scheduled, score_ms: int) -> None:
        """A queued (not taken) draft waits longer: its recipient's window closed."""
        self._call("zadd", item.queue, {item.draft_id: score_ms}, xx=True)

    def move(self, draft_id: str, source: str, target: str, address: str,
             sequence: str | None) -> bool:
        pin = self.pin_key(sequence) if sequence else ""
        return bool(self._run(self._move, [source, target, f"{self.prefix}:where", pin],
                              [draft_id, address, PIN_TTL_S]))

    def settle(self, draft_id: str) -> None:
        """Sent or dropped: the draft leaves the store."""
        try:
            with self.redis.pipeline() as pipe:
                pipe.zrem(self.lease_key, draft_id)
                for name in ("data", "meta", "where"):
                    pipe.hdel(f"{self.prefix}:{name}", draft_id)
                pipe.execute()
        except redis.RedisError as exc:
            raise StoreError(f"cannot settle draft {draft_id}: {exc}") from exc

    def pin(self, sequence: str, address: str) -> None:
        self._call("set", self.pin_key(sequence), address, ex=PIN_TTL_S)

    def recover(self, now_ms: int) -> int:
        """Leases that ran out (a sender died mid-send) go back to their queues, due now."""
        expired = self._call("zrangebyscore", self.lease_key, "-inf", now_ms)
        return sum(self.requeue(text(draft_id), now_ms) for draft_id in expired or ())

    # -- reads --------------------------------------------------------------------------------
    def pinned(self, sequence: str) -> str | None:
        value = self._call("get", self.pin_key(sequence))
        return text(value) if value else None

    def due(self, queue: str, now_ms: int, limit: int) -> list[Scheduled]:
        rows = self._call("zrangebyscore", queue, "-inf", now_ms, start=0, num=limit,
                          withscores=True) or []
        return self._with_meta(queue, rows)

    def all_in(self, queue: str) -> list[Scheduled]:
        return self._with_meta(queue, self._call("zrange", queue, 0, -1, withscores=True) or [])

    def raw(self, draft_id: str) -> bytes | None:
        return self._call("hget", f"{self.prefix}:data", draft_id)

    def size(self, queue: str) -> int:
        return int(self._call("zcard", queue))

    def sizes(self) -> dict[str, int]:
        queues = sorted(text(q) for q in self._call("smembers", f"{self.prefix}:queues") or ())
        return {queue: self.size(queue) for queue in queues}

    def _with_meta(self, queue: str, rows: list[Any]) -> list[Scheduled]:
        if not rows:
            return []
        ids = [text(draft_id) for draft_id, _ in rows]
        metas = self._call("hmget", f"{self.prefix}:meta", ids)
        return [Scheduled(draft_id, int(score), queue, json.loads(meta))
                for draft_id, (_, score), meta in zip(ids, rows, metas) if meta]

    def _run(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        try:
            return script(keys=keys, args=args)
        except redis.RedisError as exc:
            raise StoreError(f"schedule update failed: {exc}") from exc

    def _call(self, command: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return getattr(self.redis, command)(*args, **kwargs)
        except redis.RedisError as exc:
            raise StoreError(f"schedule read/write ({command}) failed: {exc}") from exc
