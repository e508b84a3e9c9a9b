"""Redis state shared by the stages: lead de-duplication, suppression, draft de-duplication.

Keys (prefix from settings, default ``outreach``):
    <prefix>:lead:<campaign>:<lead_id>   claim of the first record seen for this lead (TTL window)
    <prefix>:sent:<draft_id>             a draft the sender has handled (TTL)
    <suppression_key>                    SET of lower-cased addresses and bare domains
    <prefix>:stats                       HASH of counters (suppressed, duplicates, ...)
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import redis
import redis.asyncio as aioredis

from outreach.errors import StoreError
from outreach.settings import Settings


CLAIMED, SENT, IN_FLIGHT = "claimed", "sent", "in_flight"
# Every client gets socket timeouts: without them a Redis that stops answering (SIGSTOP, a
# network partition) blocks a batch forever instead of raising StoreError for the caller to
# retry. A pipelined batch of 500 leads answers in ~2 ms on loopback, so 5 s means "gone".
SOCKET_TIMEOUT_S = 5.0
CONNECT_TIMEOUT_S = 2.0
_TIMEOUTS = {"socket_timeout": SOCKET_TIMEOUT_S, "socket_connect_timeout": CONNECT_TIMEOUT_S}
# Deletes a lead claim only when it still holds the given record's own claim: releasing after
# a failed batch must never free another record's claim.
_RELEASE_OWN = """
local released = 0
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[i] then released = released + redis.call('DEL', key) end
end
return released
"""

# Intake's checks for a whole batch in one script call: KEYS[1] the suppression set, KEYS[i+1]
# lead i's claim key; ARGV[1] the window (s), ARGV[2] a JSON array of each lead's claim, address
# and domain. The same commands the pipeline before it ran (SMISMEMBER; SET NX EX GET), in the
# same order, but one reply of one digit a lead (bit 1: suppressed, bit 2: claimed by another
# record): the pipeline's 2 replies a lead cost ~40% of intake's CPU in redis-py's reply parser
# (cProfile, 20,000 leads in batches of 500), the one bulk string almost nothing; and one JSON
# argument instead of 3 a lead halves the client's CPU for the call (4.4 -> 2.3 us a lead).
_CHECK_MANY = """
local set, ttl, out = KEYS[1], ARGV[1], {}
local args = cjson.decode(ARGV[2])
for i = 2, #KEYS do
  local a = 3 * i - 5
  local claim = args[a]
  local member = redis.call('SMISMEMBER', set, args[a + 1], args[a + 2])
  local suppressed = member[1] == 1 or member[2] == 1
  local previous = redis.call('SET', KEYS[i], claim, 'NX', 'EX', ttl, 'GET')
  local duplicate = previous and previous ~= claim
  out[i - 1] = (suppressed and 1 or 0) + (duplicate and 2 or 0)
end
return table.concat(out)
"""


def sync_client(url: str) -> redis.Redis:
    """A blocking Redis client with socket timeouts (use this, not Redis.from_url)."""
    return redis.Redis.from_url(url, **_TIMEOUTS)


def async_client(url: str) -> aioredis.Redis:
    """An asyncio Redis client with socket timeouts (use this, not Redis.from_url)."""
    return aioredis.Redis.from_url(url, **_TIMEOUTS)


def lead_key(prefix: str, lead_id: str, campaign: str) -> str:
    return f"{prefix}:lead:{campaign}:{lead_id}"


def suppression_members(email: str) -> list[str]:
    """An address is suppressed by itself or by its domain."""
    email = email.strip().lower()
    return [email, email.rpartition("@")[2]]


class LeadClaim(NamedTuple):
    lead_id: str
    campaign: str
    email: str
    claim: str  # "topic:partition:offset" of the record that carried the lead


class IntakeStore:
    """The async Redis calls of lead intake: one round trip per batch of leads."""

    def __init__(self, settings: Settings) -> None:
        if not settings.redis_url:
            raise StoreError("REDIS_URL is not set and no embedded stack is running")
        self._redis = async_client(settings.redis_url)
        self._cfg = settings.redis
        # EVALSHA, loading the script again after a Redis restart (NOSCRIPT).
        self._check_many = self._redis.register_script(_CHECK_MANY)

    async def check_many(self, leads: Sequence[LeadClaim]) -> list[tuple[bool, bool]]:
        """(suppressed, duplicate) for each lead, in one round trip for the whole batch.

        Each lead key stores its ``claim`` (the source topic/partition/offset). A redelivery
        of the same record after a crash finds its own claim and is *not* a duplicate, so a
        crash between claiming and producing the request loses nothing; another record with
        the same lead_id + campaign inside the window is a duplicate, also within one batch
        (the script checks the leads in order).
        """
        if not leads:
            return []
        keys, args = [self._cfg.suppression_key], []
        for lead in leads:
            keys.append(lead_key(self._cfg.key_prefix, lead.lead_id, lead.campaign))
            args += [lead.claim, *suppression_members(lead.email)]
        try:
            reply = await self._check_many(keys=keys, args=[
                self._cfg.dedupe_window_s, json.dumps(args, ensure_ascii=False)])
        except redis.RedisError as exc:
            raise StoreError(f"redis check for {len(leads)} leads (first "
                             f"{leads[0].lead_id}) failed: {exc}") from exc
        # One ASCII digit a lead, "0" (48) to "3" (51).
        return [(bool(digit & 1), bool(digit & 2)) for digit in reply]

    async def release_claims(self, leads: Sequence[LeadClaim]) -> int:
        """Undo the claims these records hold (and only theirs), after their batch failed.

        A batch whose outputs were not acknowledged is retried, and a retry finds its own claims;
        releasing them as well means a CRM resend (a new record, a new offset) is not dropped
        as a duplicate should the original never come back. Returns how many were released.
        """
        if not leads:
            return 0
        keys = [lead_key(self._cfg.key_prefix, lead.lead_id, lead.campaign) for lead in leads]
        try:
            return int(await self._redis.eval(_RELEASE_OWN, len(keys), *keys,
                                               *[lead.claim for lead in leads]))
        except redis.RedisError as exc:
            raise StoreError(f"releasing {len(leads)} lead claims failed: {exc}") from exc

    async def count_many(self, counts: Mapping[str, int]) -> None:
        """Add to several counters of the stats hash in one round trip."""
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for counter, amount in counts.items():
                    pipe.hincrby(f"{self._cfg.key_prefix}:stats", counter, amount)
                await pipe.execute()
        except redis.RedisError as exc:
            raise StoreError(f"redis counters {sorted(counts)} failed: {exc}") from exc

    @property
    def client(self) -> aioredis.Redis:
        return self._redis

    async def close(self) -> None:
        await self._redis.aclose()


class SyncStore:
    """Blocking Redis calls for workers, the sender and operators' commands."""

    def __init__(self, settings: Settings) -> None:
        if not settings.redis_url:
            raise StoreError("REDIS_URL is not set and no embedded stack is running")
        self.redis = sync_client(settings.redis_url)
        self._cfg = settings.redis

    def suppress(self, *addresses_or_domains: str) -> None:
        try:
            self.redis.sadd(self._cfg.suppression_key,
                            *[item.strip().lower() for item in addresses_or_domains])
        except redis.RedisError as exc:
            raise StoreError(f"cannot add to suppression list: {exc}") from exc

    def is_suppressed(self, email: str) -> bool:
        try:
            return any(self.redis.smismember(self._cfg.suppression_key,
                                             suppression_members(email)))
        except redis.RedisError as exc:
            raise StoreError(f"suppression check failed: {exc}") from exc

    def claim_draft(self, draft_id: str) -> str:
        """Claim a draft before sending it: returns CLAIMED, SENT (settled earlier: skip) or
        IN_FLIGHT (another sender holds it, or one that crashed mid-send: retry later).

        The claim is "pending" for ``pending_claim_ttl_s`` and becomes "sent" (for
        ``draft_dedupe_ttl_s``) only once the SMTP server accepted the message, so a sender that
        dies between claiming and sending never makes its redelivered draft look sent.
        """
        key = f"{self._cfg.key_prefix}:sent:{draft_id}"
        try:
            previous = self.redis.set(key, "pending", nx=True, get=True,
                                      ex=self._cfg.pending_claim_ttl_s)
        except redis.RedisError as exc:
            raise StoreError(f"draft de-duplication failed: {exc}") from exc
        if previous is None:
            return CLAIMED
        return SENT if previous == b"sent" else IN_FLIGHT

    def mark_sent(self, draft_id: str) -> None:
        """Settle a claimed draft (sent, or deliberately dead-lettered)."""
        try:
            self.redis.set(f"{self._cfg.key_prefix}:sent:{draft_id}", "sent",
                           ex=self._cfg.draft_dedupe_ttl_s)
        except redis.RedisError as exc:
            raise StoreError(f"cannot mark draft {draft_id} sent: {exc}") from exc

    def release_draft(self, draft_id: str) -> None:
        """Undo a claim when sending failed, so a redelivery can try again."""
        try:
            self.redis.delete(f"{self._cfg.key_prefix}:sent:{draft_id}")
        except redis.RedisError as exc:
            raise StoreError(f"cannot release draft claim: {exc}") from exc

    def stats(self) -> dict[str, int]:
        try:
            raw = self.redis.hgetall(f"{self._cfg.key_prefix}:stats")
        except redis.RedisError as exc:
            raise StoreError(f"cannot read stats: {exc}") from exc
        return {key.decode(): int(value) for key, value in raw.items()}

    def incr(self, counter: str, amount: int = 1) -> None:
        try:
            self.redis.hincrby(f"{self._cfg.key_prefix}:stats", counter, amount)
        except redis.RedisError as exc:
            raise StoreError(f"redis counter {counter} failed: {exc}") from exc

    def close(self) -> None:
        self.redis.close()
