"""Mailboxes: the pool a campaign sends from, each with a daily cap, a minimum gap and a ramp-up.

The cap and the gap hold across any number of sender processes: a send is allowed by one Lua
script that reads the mailbox's status, today's count and its last send, and takes the slot in
the same step (``reserve``). A slot is taken before the SMTP exchange and never given back, so
a failed send costs capacity, never an extra email.

Keys (``P`` = ``<redis.key_prefix>:send``):
    P:mb:<address>             HASH status (active|paused), reason, since_ms, failures
    P:mb:<address>:day:<date>  the day's sends (the mailbox's own day, ``day_time_zone``)
    P:mb:<address>:last        virtual ms of its last send
    P:mailboxes                SET of every mailbox seen (configured or a campaign's sender)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from email.utils import formataddr, parseaddr
from typing import Any
from zoneinfo import ZoneInfo

import redis

from outreach.errors import StoreError
from sending.keys import text
from outreach.settings import MailboxLimits, SenderSettings, Settings

ACTIVE, PAUSED = "active", "paused"
DAY_MS = 86_400_000

# KEYS: status hash, day counter, last send. ARGV: now_ms, cap, gap_ms, next_day_ms, reserve.
# Returns {1, 0, 'ok'}, or {0, retry_at_ms, why} (why: paused | cap | gap).
_RESERVE = """
if redis.call('HGET', KEYS[1], 'status') == 'paused' then return {0, 0, 'paused'} end
local now, cap, gap = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local count = tonumber(redis.call('GET', KEYS[2]) or '0')
if count >= cap then return {0, tonumber(ARGV[4]), 'cap'} end
local last = tonumber(redis.call('GET', KEYS[3]) or '-1')
if last >= 0 and now < last + gap then return {0, last + gap, 'gap'} end
if ARGV[5] == '1' then
  redis.call('INCR', KEYS[2])
  redis.call('PEXPIRE', KEYS[2], 2 * 86400000)
  redis.call('SET', KEYS[3], now)
end
return {1, 0, 'ok'}
"""

# KEYS: status hash. ARGV: reason, now_ms. 1 when this call paused it.
_PAUSE = """
if redis.call('HGET', KEYS[1], 'status') == 'paused' then return 0 end
redis.call('HSET', KEYS[1], 'status', 'paused', 'reason', ARGV[1], 'since_ms', ARGV[2])
return 1
"""


@dataclass(frozen=True)
class Mailbox:
    address: str  # the bare address: the mailbox's name everywhere
    display_name: str
    limits: MailboxLimits
    smtp: SenderSettings  # the account it sends through

    @property
    def from_line(self) -> str:
        return formataddr((self.display_name, self.address)) if self.display_name else self.address

    def cap_on(self, day: dt.date) -> int:
        """The day's cap: 0 before the ramp-up starts, then first_day + n * increase, up to
        the daily cap."""
        start = self.limits.ramp_start
        if start is None:
            return self.limits.daily_cap
        if day < start:
            return 0
        grown = self.limits.ramp_first_day + (day - start).days * self.limits.ramp_daily_increase
        return min(self.limits.daily_cap, grown)

    def day_of(self, at_ms: int) -> dt.date:
        return dt.datetime.fromtimestamp(at_ms / 1000, tz=ZoneInfo(self.limits.day_time_zone)).date()

    def next_day_ms(self, at_ms: int) -> int:
        zone = ZoneInfo(self.limits.day_time_zone)
        midnight = dt.datetime.combine(self.day_of(at_ms) + dt.timedelta(days=1), dt.time(0),
                                       tzinfo=zone)
        return int(midnight.timestamp() * 1000)


@dataclass(frozen=True)
class Reservation:
    allowed: bool
    retry_at_ms: int
    why: str  # ok | paused | cap | gap


class Pool:
    """The configured mailboxes and each campaign's pool; a campaign's own sender address is
    a mailbox of its own when none is configured."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        cfg = settings.sending
        self.configured = {box.address.lower(): _mailbox(box, settings.sender)
                           for box in cfg.mailboxes}

    def implicit(self, from_address: str, display_name: str = "") -> Mailbox:
        address = parseaddr(from_address)[1] or parseaddr(self._settings.sender.from_address)[1]
        return Mailbox(address.lower(), display_name, self._settings.sending.default_mailbox,
                       self._settings.sender)

    def for_campaign(self, campaign: str, from_email: str = "", from_name: str = ""
                     ) -> list[Mailbox]:
        if not self.configured:
            return [self.implicit(from_email, from_name)]
        pool = self._settings.sending.pools.get(campaign)
        if pool is None:
            return list(self.configured.values())
        return [self.configured[address.lower()] for address in pool]

    def get(self, address: str) -> Mailbox:
        return self.configured.get(address.lower()) or self.implicit(address)


def _mailbox(box: Any, sender: SenderSettings) -> Mailbox:
    overrides = {name: getattr(box, name) for name in
                 ("smtp_host", "smtp_port", "smtp_user", "smtp_password", "smtp_starttls")
                 if getattr(box, name) is not None}
    overrides["from_address"] = formataddr((box.display_name, box.address))
    limits = MailboxLimits(**{name: getattr(box, name) for name in MailboxLimits.model_fields})
    return Mailbox(box.address.lower(), box.display_name, limits,
                   sender.model_copy(update=overrides))


class MailboxBook:
    """Each mailbox's state in Redis: status, today's count, last send."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.redis = client
        self.prefix = prefix
        self._reserve = client.register_script(_RESERVE)
        self._pause = client.register_script(_PAUSE)

    def key(self, address: str, *suffix: str) -> str:
        return ":".join((f"{self.prefix}:mb:{address}", *suffix))

    def reserve(self, box: Mailbox, now_ms: int, *, take: bool = True) -> Reservation:
        """Take a send slot of ``box`` at ``now_ms`` (``take=False`` only asks)."""
        day = box.day_of(now_ms)
        cap = box.cap_on(day)
        try:
            self.redis.sadd(f"{self.prefix}:mailboxes", box.address)
            allowed, retry, why = self._reserve(
                keys=[self.key(box.address), self.key(box.address, "day", day.isoformat()),
                      self.key(box.address, "last")],
                args=[now_ms, cap, int(box.limits.min_gap_s * 1000), box.next_day_ms(now_ms),
                      "1" if take else "0"])
        except redis.RedisError as exc:
            raise StoreError(f"mailbox {box.address} reservation failed: {exc}") from exc
        return Reservation(bool(allowed), int(retry), text(why))

    def sent_on(self, box: Mailbox, day: dt.date) -> int:
        return int(self._call("GET", self.key(box.address, "day", day.isoformat())) or 0)

    def status(self, address: str) -> dict[str, str]:
        raw = self._call("HGETALL", self.key(address)) or {}
        return {text(k): text(v) for k, v in raw.items()}

    def is_paused(self, address: str) -> bool:
        return text(self._call("HGET", self.key(address), "status") or b"") == PAUSED

    def pause(self, address: str, reason: str, now_ms: int) -> bool:
        """Pause ``address``; True when this call paused it (False: it already was, and the
        first reason stays: it is the one the operator must read)."""
        try:
            self.redis.sadd(f"{self.prefix}:mailboxes", address)
            return bool(self._pause(keys=[self.key(address)], args=[reason, now_ms]))
        except redis.RedisError as exc:
            raise StoreError(f"cannot pause mailbox {address}: {exc}") from exc

    def resume(self, address: str, now_ms: int) -> bool:
        was = self.is_paused(address)
        self._call("HSET", self.key(address), mapping={"status": ACTIVE, "reason": "",
                                                       "since_ms": now_ms, "failures": 0})
        return was

    def failed(self, address: str) -> int:
        """One more consecutive transport failure; the count so far."""
        return int(self._call("HINCRBY", self.key(address), "failures", 1))

    def succeeded(self, address: str) -> None:
        self._call("HSET", self.key(address), "failures", 0)

    def known(self) -> list[str]:
        return sorted(text(x) for x in self._call("SMEMBERS", f"{self.prefix}:mailboxes") or ())

    def _call(self, command: str, *args: Any, **kwargs: Any) -> Any:
        try:
            if kwargs:
                return getattr(self.redis, command.lower())(*args, **kwargs)
            return self.redis.execute_command(command, *args)
        except redis.RedisError as exc:
            raise StoreError(f"mailbox state ({command}) failed: {exc}") from exc
