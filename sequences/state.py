"""Per-sequence state in Redis: every transition is one Lua script, so it is atomic across
any number of scheduler and sender processes, and replayable, so a redelivered record after a
crash yields the same outputs (which the outbox then drops) instead of none.

Keys (``P`` = ``<redis.key_prefix>:seq``; a sequence is one lead in one campaign, named by a
digest ``d`` of the two):
    P:s:<d>            HASH  lead_id, campaign, email, lead (JSON), tier, variant, version,
                             step (last step drafted), status (active|stopped|finished), reason,
                             next_step, due_ms, requested, subject, body, thread (draft ids)
    P:due              ZSET  d -> virtual ms when its next step is due
    P:lease:<d>        a scheduler holds this due step while it requests it
    P:draft:<draft_id> -> d: engagement events name drafts, not sequences
    P:req:<request_id> -> d: a follow-up request, so its dead letter finds its sequence
    P:contact:<email>  SET of d: the contact's sequences in every campaign
    P:stopc:<email>    why the contact's sequences stopped (when stops cross campaigns)
    P:evt:<event_id>   the sequences an engagement event stopped (its replay answer)
    P:orphan:<draft_id> LIST of events that arrived before their draft
    P:out:<id>         an output (request, crm update) the broker acknowledged: the outbox
    P:deferred         ZSET draft_id -> when a capped draft may go; P:deferred:data its bytes
    P:funnel:<campaign> HASH "<sent|replied|auto_replied|stopped|finished>:<step>" -> count
                       (outreach/step_funnel.py: the dashboard reads it)
    P:counted:<event_id> a reply already counted in its funnel
    P:readto:all       HASH engagement partition -> virtual ms up to which a scheduler read it
Scripts build keys of other sequences from the prefix (one Redis, not a cluster).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import redis

from outreach.errors import StoreError
from outreach.settings import Settings
from outreach.step_funnel import funnel_prefix
from outreach.store import sync_client
from schemas.records import EmailDraft

ACTIVE, STOPPED, FINISHED = "active", "stopped", "finished"
COMPLETED = "completed"

# KEYS: seq, due, draft map, contact set, contact stop, funnel. ARGV: step, n_steps, due_ms,
# draft_id, subject, body, email, lead_id, campaign, lead_json, tier, variant, version, ttl_s,
# stop_other, digest. Returns {outcome, status, reason}; the funnel counts first transitions only.
_ON_DRAFT = """
local seq, due, dmap, cset, cstop = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local step, n, ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[14])
local d = ARGV[16]
local function count(field)
  redis.call('HINCRBY', KEYS[6], field .. ':' .. step, 1)
  redis.call('EXPIRE', KEYS[6], ttl)
end
redis.call('SET', dmap, d, 'EX', ttl)
redis.call('SADD', cset, d)
redis.call('EXPIRE', cset, ttl)
local cur = tonumber(redis.call('HGET', seq, 'step') or '0')
if step <= cur then
  return {'dup', redis.call('HGET', seq, 'status') or 'active', redis.call('HGET', seq, 'reason') or ''}
end
redis.call('HSET', seq, 'lead_id', ARGV[8], 'campaign', ARGV[9], 'email', ARGV[7], 'step', step,
           'tier', ARGV[11], 'variant', ARGV[12], 'version', ARGV[13], 'body', ARGV[6])
if redis.call('HEXISTS', seq, 'subject') == 0 then redis.call('HSET', seq, 'subject', ARGV[5]) end
if ARGV[10] ~= '' and redis.call('HEXISTS', seq, 'lead') == 0 then
  redis.call('HSET', seq, 'lead', ARGV[10])
end
local thread = redis.call('HGET', seq, 'thread')
redis.call('HSET', seq, 'thread', thread and (thread .. ',' .. ARGV[4]) or ARGV[4])
redis.call('EXPIRE', seq, ttl)
local status = redis.call('HGET', seq, 'status') or 'active'
if status ~= 'active' then
  return {'inactive', status, redis.call('HGET', seq, 'reason') or ''}
end
local stop = false
if ARGV[15] == '1' then stop = redis.call('GET', cstop) end
if stop then
  redis.call('HSET', seq, 'status', 'stopped', 'reason', stop)
  redis.call('ZREM', due, d)
  count('stopped')
  return {'stopped', 'stopped', stop}
end
count('sent')
if step >= n then
  redis.call('HSET', seq, 'status', 'finished', 'reason', 'completed')
  redis.call('ZREM', due, d)
  count('finished')
  return {'finished', 'finished', 'completed'}
end
redis.call('HSET', seq, 'status', 'active', 'next_step', step + 1, 'due_ms', ARGV[3])
redis.call('ZADD', due, tonumber(ARGV[3]), d)
return {'scheduled', 'active', ''}
"""

# KEYS: due, contact stop, contact set, event record. ARGV: prefix, own digest (or ''),
# reason, stop_other, ttl_s, other-campaign reason, funnel prefix. Returns the digests this
# event stopped (each counted once in its campaign's funnel, at the step it stood at).
_ON_STOP = """
local due, cstop, cset, evt = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local prefix, own, reason, ttl = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[5])
local done = redis.call('GET', evt)
if done then return cjson.decode(done) end
local stopped = {}
local function stop(d, why)
  local seq = prefix .. ':s:' .. d
  if (redis.call('HGET', seq, 'status') or 'active') == 'active'
     and redis.call('EXISTS', seq) == 1 then
    redis.call('HSET', seq, 'status', 'stopped', 'reason', why)
    redis.call('ZREM', due, d)
    table.insert(stopped, d)
    local campaign = redis.call('HGET', seq, 'campaign')
    if campaign then
      local funnel = ARGV[7] .. campaign
      redis.call('HINCRBY', funnel, 'stopped:' .. (redis.call('HGET', seq, 'step') or '0'), 1)
      redis.call('EXPIRE', funnel, ttl)
    end
  end
end
if own ~= '' then stop(own, reason) end
if ARGV[4] == '1' then
  redis.call('SET', cstop, ARGV[6], 'EX', ttl)
  for _, d in ipairs(redis.call('SMEMBERS', cset)) do
    if d ~= own then stop(d, ARGV[6]) end
  end
end
redis.call('SET', evt, cjson.encode(stopped), 'EX', ttl)
return stopped
"""

# KEYS: read-to hash. ARGV: time, partitions... Raises each partition's time (never lowers it:
# a scheduler that lost a partition may still report what it read). Returns every partition's.
_READ_TO = """
for i = 2, #ARGV do
  local cur = tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '-1')
  if tonumber(ARGV[1]) > cur then redis.call('HSET', KEYS[1], ARGV[i], ARGV[1]) end
end
return redis.call('HGETALL', KEYS[1])
"""

# KEYS: funnel, the event's count record. ARGV: field, ttl_s. Counts an event once.
_COUNT_ONCE = """
if redis.call('SET', KEYS[2], '1', 'NX', 'EX', tonumber(ARGV[2])) then
  redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
  return 1
end
return 0
"""

# KEYS: due. ARGV: prefix, now_ms, limit, lease_ms. Leases and returns due digests.
_TAKE_DUE = """
local taken = {}
for _, d in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT', 0, ARGV[3])) do
  if redis.call('SET', ARGV[1] .. ':lease:' .. d, '1', 'NX', 'PX', ARGV[4]) then
    table.insert(taken, d)
  end
end
return taken
"""

# KEYS: seq, due, lease. ARGV: digest, step. The step is requested: it leaves the due set until
# its draft schedules the next one. Returns 1 when this call recorded it.
_MARK_REQUESTED = """
redis.call('DEL', KEYS[3])
if redis.call('HGET', KEYS[1], 'status') ~= 'active'
   or tonumber(redis.call('HGET', KEYS[1], 'next_step') or '0') ~= tonumber(ARGV[2]) then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 0
end
redis.call('HSET', KEYS[1], 'requested', ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
"""


def digest(lead_id: str, campaign: str) -> str:
    return hashlib.sha256(f"{campaign}\x1f{lead_id}".encode()).hexdigest()[:20]


def contact(email: str) -> str:
    return email.strip().lower()


@dataclass(frozen=True)
class DraftResult:
    outcome: str  # scheduled | finished | stopped | inactive | dup
    status: str
    reason: str


class SequenceStore:
    """The Redis side of the scheduler and of the send gate (blocking client)."""

    def __init__(self, settings: Settings) -> None:
        if not settings.redis_url:
            raise StoreError("REDIS_URL is not set and no embedded stack is running")
        self.redis = sync_client(settings.redis_url)
        self.prefix = f"{settings.redis.key_prefix}:seq"
        self.cfg = settings.sequences
        self.ttl_s = self.cfg.state_ttl_days * 86_400
        self._on_draft = self.redis.register_script(_ON_DRAFT)
        self._on_stop = self.redis.register_script(_ON_STOP)
        self._take_due = self.redis.register_script(_TAKE_DUE)
        self._mark = self.redis.register_script(_MARK_REQUESTED)
        self._count_once = self.redis.register_script(_COUNT_ONCE)
        self._read_to = self.redis.register_script(_READ_TO)
        self.funnel_prefix = funnel_prefix(settings.redis.key_prefix)

    def key(self, kind: str, name: str) -> str:
        return f"{self.prefix}:{kind}:{name}"

    @property
    def due_key(self) -> str:
        return f"{self.prefix}:due"

    def on_draft(self, draft: EmailDraft, step: int, n_steps: int, due_ms: int,
                 lead_json: str) -> DraftResult:
        d = digest(draft["lead_id"], draft["campaign"])
        email = contact(draft["to_email"])
        keys = [self.key("s", d), self.due_key, self.key("draft", draft["draft_id"]),
                self.key("contact", email), self.key("stopc", email),
                self.funnel_prefix + draft["campaign"]]
        args = [step, n_steps, due_ms, draft["draft_id"], draft["subject"], draft["body"], email,
                draft["lead_id"], draft["campaign"], lead_json, draft["tier"], draft["variant"],
                int(draft.get("campaign_version") or 0), self.ttl_s,
                "1" if self.cfg.stop_other_campaigns else "0", d]
        outcome, status, reason = self._run(self._on_draft, keys, args, "draft transition")
        return DraftResult(_text(outcome), _text(status), _text(reason))

    def on_stop(self, event_id: str, own: str | None, email: str, reason: str,
                campaign: str, cross: bool = True) -> list[str]:
        """Stop ``own`` (and, per settings and ``cross``, every sequence of the contact); the
        digests this event stopped, the same list again when the event is replayed."""
        email = contact(email)
        keys = [self.due_key, self.key("stopc", email), self.key("contact", email),
                self.key("evt", event_id)]
        others = cross and self.cfg.stop_other_campaigns
        args = [self.prefix, own or "", reason, "1" if others else "0",
                self.ttl_s, f"stopped_in:{campaign}:{reason}", self.funnel_prefix]
        return [_text(d) for d in self._run(self._on_stop, keys, args, "stop transition")]

    def count_reply(self, event_id: str, campaign: str, step: int, auto: bool) -> bool:
        """A reply in the campaign's funnel at ``step`` (and as an auto-reply when ``auto``),
        once per event id: an ESP's retry or a replayed record counts nothing."""
        keys = [self.funnel_prefix + campaign, self.key("counted", event_id)]
        counted = self._run(self._count_once, keys, [f"replied:{step}", self.ttl_s],
                            "reply count")
        if counted and auto:
            self._run(self._count_once, [keys[0], self.key("counted-auto", event_id)],
                      [f"auto_replied:{step}", self.ttl_s], "auto-reply count")
        return bool(counted)

    def remember_lead(self, lead_id: str, campaign: str, lead_json: str) -> None:
        """The first step-1 request's lead is the sequence's (HSETNX: a resend changes nothing);
        follow-up requests quote it, since a draft carries only the name and company."""
        key = self.key("s", digest(lead_id, campaign))
        try:
            with self.redis.pipeline() as pipe:
                pipe.hsetnx(key, "lead", lead_json)
                pipe.expire(key, self.ttl_s)
                pipe.execute()
        except redis.RedisError as exc:
            raise StoreError(f"cannot remember the lead of {lead_id}: {exc}") from exc

    def read_everywhere(self, owned: frozenset[int], read_to_ms: int,
                        partitions: int) -> int | None:
        """Record that ``owned`` engagement partitions are read up to ``read_to_ms``; the time
        up to which all ``partitions`` are read, by whichever scheduler, or None while one of
        them has no time yet (its owner has not caught up once)."""
        flat = self._run(self._read_to, [self.key("readto", "all")],
                         [read_to_ms, *sorted(owned)], "read-to")
        times = {int(_text(k)): int(_text(v)) for k, v in zip(flat[::2], flat[1::2])}
        if any(p not in times for p in range(partitions)):
            return None
        return min(times[p] for p in range(partitions))

    def take_due(self, now_ms: int, limit: int = 200) -> list[str]:
        args = [self.prefix, now_ms, limit, int(self.cfg.lease_s * 1000)]
        return [_text(d) for d in self._run(self._take_due, [self.due_key], args, "due steps")]

    def mark_requested(self, d: str, step: int) -> bool:
        keys = [self.key("s", d), self.due_key, self.key("lease", d)]
        return bool(self._run(self._mark, keys, [d, step], "mark requested"))

    def postpone(self, d: str, due_ms: int) -> None:
        """Due later (contact cap): back in the due set, lease released."""
        try:
            with self.redis.pipeline() as pipe:
                pipe.zadd(self.due_key, {d: due_ms})
                pipe.hset(self.key("s", d), "due_ms", due_ms)
                pipe.delete(self.key("lease", d))
                pipe.execute()
        except redis.RedisError as exc:
            raise StoreError(f"cannot postpone sequence {d}: {exc}") from exc

    def sequence(self, d: str) -> dict[str, str]:
        try:
            raw = self.redis.hgetall(self.key("s", d))
        except redis.RedisError as exc:
            raise StoreError(f"cannot read sequence {d}: {exc}") from exc
        return {_text(k): _text(v) for k, v in raw.items()}

    def remember_request(self, request_id: str, d: str) -> None:
        try:
            self.redis.set(self.key("req", request_id), d, ex=self.ttl_s)
        except redis.RedisError as exc:
            raise StoreError(f"cannot remember request {request_id}: {exc}") from exc

    def sequence_of_request(self, request_id: str) -> str | None:
        value = self._get(self.key("req", request_id))
        return _text(value) if value is not None else None

    def sequence_of_draft(self, draft_id: str) -> str | None:
        value = self._get(self.key("draft", draft_id))
        return _text(value) if value is not None else None

    def contact_stopped(self, email: str) -> str | None:
        value = self._get(self.key("stopc", contact(email)))
        return _text(value) if value is not None else None

    # -- events that arrived before their draft ----------------------------------------------
    def park(self, draft_id: str, raw_event: bytes) -> None:
        key = self.key("orphan", draft_id)
        try:
            with self.redis.pipeline() as pipe:
                pipe.rpush(key, raw_event)
                pipe.expire(key, self.ttl_s)
                pipe.execute()
        except redis.RedisError as exc:
            raise StoreError(f"cannot park an event of {draft_id}: {exc}") from exc

    def parked(self, draft_id: str) -> list[bytes]:
        try:
            return list(self.redis.lrange(self.key("orphan", draft_id), 0, -1))
        except redis.RedisError as exc:
            raise StoreError(f"cannot read parked events of {draft_id}: {exc}") from exc

    def unpark(self, draft_id: str) -> None:
        self._delete(self.key("orphan", draft_id))

    # -- the outbox: outputs the broker acknowledged -----------------------------------------
    def already_out(self, ids: list[str]) -> list[bool]:
        if not ids:
            return []
        try:
            return [bool(x) for x in self.redis.mget([self.key("out", i) for i in ids])]
        except redis.RedisError as exc:
            raise StoreError(f"outbox check failed: {exc}") from exc

    def mark_out(self, ids: list[str]) -> None:
        if not ids:
            return
        try:
            with self.redis.pipeline(transaction=False) as pipe:
                for output_id in ids:
                    pipe.set(self.key("out", output_id), "1", ex=self.ttl_s)
                pipe.execute()
        except redis.RedisError as exc:
            raise StoreError(f"outbox mark failed: {exc}") from exc

    # -- drafts the contact cap deferred ------------------------------------------------------
    def defer_draft(self, draft_id: str, raw: bytes, until_ms: int) -> None:
        try:
            with self.redis.pipeline() as pipe:
                pipe.hset(f"{self.prefix}:deferred:data", draft_id, raw)
                pipe.zadd(f"{self.prefix}:deferred", {draft_id: until_ms})
                pipe.execute()
        except redis.RedisError as exc:
            raise StoreError(f"cannot defer draft {draft_id}: {exc}") from exc

    def deferred_until(self, draft_id: str) -> int | None:
        try:
            score = self.redis.zscore(f"{self.prefix}:deferred", draft_id)
        except redis.RedisError as exc:
            raise StoreError(f"cannot read deferral of {draft_id}: {exc}") from exc
        return int(score) if score is not None else None

    def due_drafts(self, now_ms: int, limit: int = 200) -> list[tuple[str, bytes]]:
        try:
            ids = self.redis.zrangebyscore(f"{self.prefix}:deferred", "-inf", now_ms, 0, limit)
            if not ids:
                return []
            raws = self.redis.hmget(f"{self.prefix}:deferred:data", ids)
        except redis.RedisError as exc:
            raise StoreError(f"cannot read deferred drafts: {exc}") from exc
        return [(_text(i), raw) for i, raw in zip(ids, raws) if raw is not None]

    def release_draft(self, draft_id: str) -> None:
        try:
            with self.redis.pipeline() as pipe:
                pipe.zrem(f"{self.prefix}:deferred", draft_id)
                pipe.hdel(f"{self.prefix}:deferred:data", draft_id)
                pipe.execute()
        except redis.RedisError as exc:
            raise StoreError(f"cannot release deferred draft {draft_id}: {exc}") from exc

    def counts(self) -> dict[str, int]:
        """Sequences by status (a scan: for tests, the demo and operators, not hot paths)."""
        found: dict[str, int] = {}
        try:
            for key in self.redis.scan_iter(match=f"{self.prefix}:s:*", count=500):
                status = _text(self.redis.hget(key, "status") or b"active")
                found[status] = found.get(status, 0) + 1
        except redis.RedisError as exc:
            raise StoreError(f"cannot count sequences: {exc}") from exc
        return found

    def close(self) -> None:
        self.redis.close()

    def _run(self, script: Any, keys: list[str], args: list[Any], what: str) -> Any:
        try:
            return script(keys=keys, args=args)
        except redis.RedisError as exc:
            raise StoreError(f"{what} failed: {exc}") from exc

    def _get(self, key: str) -> Any:
        try:
            return self.redis.get(key)
        except redis.RedisError as exc:
            raise StoreError(f"cannot read {key}: {exc}") from exc

    def _delete(self, key: str) -> None:
        try:
            self.redis.delete(key)
        except redis.RedisError as exc:
            raise StoreError(f"cannot delete {key}: {exc}") from exc


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def thread_ids(seq: dict[str, str]) -> list[str]:
    return [i for i in seq.get("thread", "").split(",") if i]


def lead_of(seq: dict[str, str]) -> dict[str, Any] | None:
    raw = seq.get("lead")
    return json.loads(raw) if raw else None
