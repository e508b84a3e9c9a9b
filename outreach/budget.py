"""The LLM tier's daily spending cap, counted in Redis (global and per campaign).

Keys (prefix from settings.redis.key_prefix):
    <prefix>:llm:spend:<YYYYMMDD>     HASH  "_total" and one field per campaign, USD spent
    <prefix>:llm:blocked:<YYYYMMDD>   HASH  requests the cap stopped, by campaign
A call is checked before it is made and its cost added after: with ``llm.concurrency`` calls in
flight the cap can be overrun by at most that many drafts (~$0.0002 each at gpt-4o-mini prices).
Days are UTC so every worker agrees on when the cap resets. Keys expire after 8 days.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import redis

from outreach.errors import StoreError
from outreach.settings import BudgetSettings

TOTAL = "_total"
KEY_TTL_S = 8 * 24 * 3600


def day(now: float | None = None) -> str:
    return time.strftime("%Y%m%d", time.gmtime(time.time() if now is None else now))


def spend_key(prefix: str, on_day: str) -> str:
    return f"{prefix}:llm:spend:{on_day}"


def blocked_key(prefix: str, on_day: str) -> str:
    return f"{prefix}:llm:blocked:{on_day}"


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    reason: str = ""  # why not, for the draft's rung reasons and the counter


class Budget:
    def __init__(self, client: redis.Redis, prefix: str, settings: BudgetSettings) -> None:
        self._redis = client
        self._prefix = prefix
        self._cfg = settings

    def cap_for(self, campaign: str) -> float | None:
        return self._cfg.per_campaign_usd.get(campaign, self._cfg.default_campaign_usd)

    def check(self, campaign: str) -> Verdict:
        """May one more LLM call for ``campaign`` be made today?"""
        today = day()
        try:
            total, spent = self._redis.hmget(spend_key(self._prefix, today), TOTAL, campaign)
        except redis.RedisError as exc:
            raise StoreError(f"reading the LLM budget failed: {exc}") from exc
        total, spent = float(total or 0), float(spent or 0)
        if self._cfg.daily_usd is not None and total >= self._cfg.daily_usd:
            return Verdict(False, f"daily LLM budget spent (${total:.4f} of "
                                  f"${self._cfg.daily_usd:.2f})")
        cap = self.cap_for(campaign)
        if cap is not None and spent >= cap:
            return Verdict(False, f"campaign {campaign} LLM budget spent (${spent:.4f} of "
                                  f"${cap:.2f})")
        return Verdict(True)

    def add(self, campaign: str, usd: float) -> None:
        key = spend_key(self._prefix, day())
        try:
            with self._redis.pipeline(transaction=True) as pipe:
                pipe.hincrbyfloat(key, TOTAL, usd)
                pipe.hincrbyfloat(key, campaign, usd)
                pipe.expire(key, KEY_TTL_S)
                pipe.execute()
        except redis.RedisError as exc:
            raise StoreError(f"recording LLM spend failed: {exc}") from exc

    def blocked(self, campaign: str) -> None:
        key = blocked_key(self._prefix, day())
        try:
            with self._redis.pipeline(transaction=True) as pipe:
                pipe.hincrby(key, TOTAL, 1)
                pipe.hincrby(key, campaign, 1)
                pipe.expire(key, KEY_TTL_S)
                pipe.execute()
        except redis.RedisError as exc:
            raise StoreError(f"counting a budget stop failed: {exc}") from exc


def today_spend(client: redis.Redis, prefix: str) -> tuple[dict[str, float], dict[str, int]]:
    """(USD spent by campaign, requests stopped by campaign) today; "_total" holds the sums."""
    today = day()
    try:
        spend = client.hgetall(spend_key(prefix, today))
        blocked = client.hgetall(blocked_key(prefix, today))
    except redis.RedisError as exc:
        raise StoreError(f"reading the LLM budget failed: {exc}") from exc
    return ({k.decode(): float(v) for k, v in spend.items()},
            {k.decode(): int(v) for k, v in blocked.items()})
