"""Drafts held for a person before sending: the approval queue's state in Redis.

A held draft never reaches email.drafts until a reviewer approves it, so no mail sender can
send it early. Keys (prefix from settings.redis.key_prefix):
    <prefix>:held:item:<draft_id>   JSON: draft (EmailDraft), lead, rung, reasons, status, ...
    <prefix>:held:pending           ZSET of draft_ids waiting for a decision (score: held at ms)
    <prefix>:held:outbox            SET of decided draft_ids still to publish (approved/edited)
    <prefix>:held:publishing        SET of outbox draft_ids a publisher claimed (no undo now)
    <prefix>:held:stats             HASH held / approved / edited / rejected / published / undone
Undo: a decision is published only after ``approval.undo_s``; until a publisher claims it
(outbox -> publishing, one Lua call) ``undo`` puts it back in pending, so a draft is either
undone or published, never both.
Exactly once: a decision moves an item from pending to the outbox in one Lua call; the
publisher produces the draft to email.drafts, waits for the ack, then removes it from the
outbox. A crash in between republishes the same draft_id, which senders de-duplicate (their
SET NX claim), so an approved draft is sent once, also across restarts.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import redis

from outreach.errors import DataError, StoreError

PENDING, APPROVED, EDITED, REJECTED = "pending", "approved", "edited", "rejected"
DECISIONS = (APPROVED, EDITED, REJECTED)

# KEYS: item, pending, stats; ARGV: json, draft_id, score. Holding twice (a redelivered
# request) keeps the first item and its decision; a pending item stays queued.
_HOLD = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX') then
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
  redis.call('HINCRBY', KEYS[3], 'held', 1)
  return 1
end
return 0
"""
# KEYS: item, pending, outbox, stats; ARGV: decided json, draft_id, status, ttl.
_DECIDE = """
local current = redis.call('GET', KEYS[1])
if not current then return -1 end
if cjson.decode(current)['status'] ~= 'pending' then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[4])
redis.call('ZREM', KEYS[2], ARGV[2])
if ARGV[3] ~= 'rejected' then redis.call('SADD', KEYS[3], ARGV[2]) end
redis.call('HINCRBY', KEYS[4], ARGV[3], 1)
return 1
"""


# KEYS: outbox, publishing; ARGV: draft_id. 1 when this publisher may publish it now.
_CLAIM = """
if redis.call('SREM', KEYS[1], ARGV[1]) == 1 then
  redis.call('SADD', KEYS[2], ARGV[1])
  return 1
end
return redis.call('SISMEMBER', KEYS[2], ARGV[1])
"""
# KEYS: item, pending, outbox, stats; ARGV: restored json, draft_id, now ms, window ms, ttl.
# -1 unknown, 0 too late (claimed for publishing, or the window passed), 1 undone.
_UNDO = """
local current = redis.call('GET', KEYS[1])
if not current then return -1 end
local item = cjson.decode(current)
if item['status'] == 'pending' or not item['decided_at'] then return 0 end
if tonumber(item['decided_at']) + tonumber(ARGV[4]) < tonumber(ARGV[3]) then return 0 end
if item['status'] ~= 'rejected' and redis.call('SREM', KEYS[3], ARGV[2]) == 0 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[5])
redis.call('ZADD', KEYS[2], item['held_at'], ARGV[2])
redis.call('HINCRBY', KEYS[4], item['status'], -1)
redis.call('HINCRBY', KEYS[4], 'undone', 1)
return 1
"""


@dataclass
class HeldItem:
    draft: dict[str, Any]  # the EmailDraft as written (created_at in epoch ms)
    lead: dict[str, Any]
    rung: str
    reasons: list[str]
    status: str = PENDING
    held_at: int = field(default_factory=lambda: int(time.time() * 1000))
    reviewer: str | None = None
    decision_reason: str | None = None
    decided_at: int | None = None
    original: dict[str, str] | None = None  # subject/body before an edit
    checks: list[str] | None = None  # post-check reasons of the edited text

    @property
    def draft_id(self) -> str:
        return str(self.draft["draft_id"])

    def to_json(self) -> str:
        return json.dumps(vars(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: bytes | str) -> HeldItem:
        return cls(**json.loads(raw))


class HeldDrafts:
    def __init__(self, client: redis.Redis, prefix: str, item_ttl_s: int) -> None:
        self._redis = client
        self._prefix = prefix
        self._ttl = item_ttl_s
        self._hold = client.register_script(_HOLD)
        self._decide = client.register_script(_DECIDE)
        self._claim = client.register_script(_CLAIM)
        self._undo = client.register_script(_UNDO)

    def _key(self, name: str) -> str:
        return f"{self._prefix}:held:{name}"

    def item_key(self, draft_id: str) -> str:
        return self._key(f"item:{draft_id}")

    def hold(self, item: HeldItem) -> bool:
        """Queue ``item``; False if this draft_id was held before (its state is kept)."""
        try:
            return bool(self._hold(keys=[self.item_key(item.draft_id), self._key("pending"),
                                         self._key("stats")],
                                   args=[item.to_json(), item.draft_id, item.held_at]))
        except redis.RedisError as exc:
            raise StoreError(f"holding draft {item.draft_id} failed: {exc}") from exc

    def get(self, draft_id: str) -> HeldItem | None:
        try:
            raw = self._redis.get(self.item_key(draft_id))
        except redis.RedisError as exc:
            raise StoreError(f"reading held draft {draft_id} failed: {exc}") from exc
        return HeldItem.from_json(raw) if raw else None

    def pending(self, limit: int = 200) -> list[HeldItem]:
        try:
            ids = self._redis.zrange(self._key("pending"), 0, limit - 1)
            raws = self._redis.mget([self.item_key(i.decode()) for i in ids]) if ids else []
        except redis.RedisError as exc:
            raise StoreError(f"listing held drafts failed: {exc}") from exc
        return [HeldItem.from_json(raw) for raw in raws if raw]

    def decide(self, draft_id: str, status: str, reviewer: str, reason: str | None = None,
               subject: str | None = None, body: str | None = None,
               checks: list[str] | None = None) -> HeldItem:
        """Approve, edit (new subject/body) or reject a pending draft; raises DataError when
        it is unknown, already decided, or the decision is malformed."""
        if status not in DECISIONS:
            raise DataError(f"unknown decision {status!r}; one of {', '.join(DECISIONS)}")
        if status == REJECTED and not (reason or "").strip():
            raise DataError("a rejection needs a reason")
        item = self.get(draft_id)
        if item is None:
            raise DataError(f"no held draft {draft_id}")
        if status == EDITED:
            if not (subject or "").strip() or not (body or "").strip():
                raise DataError("an edit needs a subject and a body")
            item.original = {"subject": item.draft["subject"], "body": item.draft["body"]}
            item.draft = {**item.draft, "subject": subject.strip(), "body": body.strip()}
            item.checks = checks
        item.status, item.reviewer, item.decision_reason = status, reviewer, reason
        item.decided_at = int(time.time() * 1000)
        try:
            done = int(self._decide(keys=[self.item_key(draft_id), self._key("pending"),
                                          self._key("outbox"), self._key("stats")],
                                    args=[item.to_json(), draft_id, status, self._ttl]))
        except redis.RedisError as exc:
            raise StoreError(f"recording the decision on {draft_id} failed: {exc}") from exc
        if done != 1:
            raise DataError(f"held draft {draft_id} is no longer pending")
        return item

    def undo(self, draft_id: str, window_s: float) -> HeldItem:
        """Put a decision back in the queue while its undo window lasts and no publisher has
        claimed it; DataError when it is too late or unknown."""
        item = self.get(draft_id)
        if item is None:
            raise DataError(f"no held draft {draft_id}")
        restored = HeldItem(draft={**item.draft, **(item.original or {})}, lead=item.lead,
                            rung=item.rung, reasons=item.reasons, held_at=item.held_at)
        try:
            done = int(self._undo(keys=[self.item_key(draft_id), self._key("pending"),
                                        self._key("outbox"), self._key("stats")],
                                  args=[restored.to_json(), draft_id, int(time.time() * 1000),
                                        int(window_s * 1000), self._ttl]))
        except redis.RedisError as exc:
            raise StoreError(f"undoing the decision on {draft_id} failed: {exc}") from exc
        if done != 1:
            raise DataError(f"too late to undo {draft_id}: it is being sent or was sent")
        return restored

    def claim(self, draft_id: str) -> bool:
        """Take an outbox draft for publishing (from then on it cannot be undone)."""
        try:
            return bool(self._claim(keys=[self._key("outbox"), self._key("publishing")],
                                    args=[draft_id]))
        except redis.RedisError as exc:
            raise StoreError(f"claiming {draft_id} for publishing failed: {exc}") from exc

    def outbox(self) -> list[HeldItem]:
        """Decided drafts not yet published to email.drafts (claimed ones included)."""
        try:
            ids = sorted({i.decode() for i in self._redis.sunion(self._key("outbox"),
                                                                 self._key("publishing"))})
            raws = self._redis.mget([self.item_key(i) for i in ids]) if ids else []
        except redis.RedisError as exc:
            raise StoreError(f"reading the approval outbox failed: {exc}") from exc
        return [HeldItem.from_json(raw) for raw in raws if raw]

    def published(self, draft_id: str) -> None:
        try:
            with self._redis.pipeline(transaction=True) as pipe:
                pipe.srem(self._key("outbox"), draft_id)
                pipe.srem(self._key("publishing"), draft_id)
                pipe.hincrby(self._key("stats"), "published", 1)
                pipe.execute()
        except redis.RedisError as exc:
            raise StoreError(f"marking {draft_id} published failed: {exc}") from exc

    def counts(self) -> dict[str, int]:
        try:
            stats = self._redis.hgetall(self._key("stats"))
            waiting = self._redis.zcard(self._key("pending"))
            outbox = (self._redis.scard(self._key("outbox"))
                      + self._redis.scard(self._key("publishing")))
        except redis.RedisError as exc:
            raise StoreError(f"reading approval counts failed: {exc}") from exc
        counts = {k.decode(): int(v) for k, v in stats.items()}
        counts.update(pending=int(waiting), outbox=int(outbox))
        return counts
