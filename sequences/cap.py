"""The contact cap: at most ``contact_cap_emails`` emails to one address in
``contact_cap_days``, whichever campaign sends them.

One Lua script per decision keeps it atomic across any number of senders: a sorted set per
contact holds the sends it allowed (member = the step's request id, score = the virtual time).
The slot is taken where the send is decided, the mail sender's gate (sequences/gate.py), so the
spacing holds between the emails themselves, not between requests to write them. The holder
makes it idempotent: a redelivered draft (same request id) is allowed again and takes no second
slot. The scheduler only peeks (``reserve=False``) to hold a follow-up back while the contact's
slot is taken, instead of writing a draft the gate would defer.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

from outreach.errors import StoreError
from outreach.settings import Settings
from outreach.store import sync_client
from sequences.clock import DAY_MS
from sequences.state import contact

# KEYS: the contact's set. ARGV: holder, now_ms, window_ms, max, reserve (1/0). Returns {1, 0}
# when allowed, {0, ms when the oldest slot frees} when not.
_RESERVE = """
local key, holder = KEYS[1], ARGV[1]
local now, window, max = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
if redis.call('ZSCORE', key, holder) then return {1, 0} end
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
if redis.call('ZCARD', key) < max then
  if ARGV[5] == '1' then
    redis.call('ZADD', key, now, holder)
    redis.call('PEXPIRE', key, window)
  end
  return {1, 0}
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
return {0, tonumber(oldest[2]) + window}
"""


@dataclass(frozen=True)
class CapDecision:
    allowed: bool
    retry_at_ms: int  # when to ask again (0 when allowed)


class ContactCap:
    def __init__(self, settings: Settings, client: redis.Redis | None = None) -> None:
        cfg = settings.sequences
        self._window_ms = int(cfg.contact_cap_days * DAY_MS)
        self._max = cfg.contact_cap_emails
        self._prefix = f"{settings.redis.key_prefix}:seq:cap"
        self._redis = client or sync_client(settings.redis_url or "")
        self._script = self._redis.register_script(_RESERVE)

    @property
    def enabled(self) -> bool:
        return self._window_ms > 0

    def reserve(self, email: str, holder: str, now_ms: int, *, reserve: bool = True
                ) -> CapDecision:
        """Take a slot for ``holder`` (a step's request id) at ``now_ms``, or say when to retry;
        ``reserve=False`` only asks whether a slot is free."""
        if not self.enabled:
            return CapDecision(True, 0)
        try:
            allowed, retry_at = self._script(keys=[f"{self._prefix}:{contact(email)}"],
                                             args=[holder, now_ms, self._window_ms, self._max,
                                                   "1" if reserve else "0"])
        except redis.RedisError as exc:
            raise StoreError(f"contact cap check failed: {exc}") from exc
        return CapDecision(bool(allowed), int(retry_at))

    def held_at(self, email: str, holder: str) -> int | None:
        """When ``holder`` took its slot (virtual ms), while the slot is in the window: the
        time the send was decided, which is what the cap spaces (not when SMTP finished)."""
        try:
            score = self._redis.zscore(f"{self._prefix}:{contact(email)}", holder)
        except redis.RedisError as exc:
            raise StoreError(f"contact cap read failed: {exc}") from exc
        return int(score) if score is not None else None
