"""The spend ledger: USD per campaign, per escalation rung, per UTC day, as it is spent.

One ledger that the dashboard, the demo's summary and /metrics all read, so their figures
reconcile. Workers add each request's cost when they settle it on a rung (every attempt, passed
or failed: a failed attempt cost as much), split by what became of it:
    written   a draft came out of this rung (sent on, or held for a person)
    failed    every attempt failed its checks (escalated, or dead-lettered)
The KPI tables' ``cost_usd`` counts only drafts that reached email.drafts, and the LLM budget
(outreach/budget.py) counts the LLM's calls for its cap; both are parts of this ledger.

Keys (prefix from settings.redis.key_prefix):
    <prefix>:spend:<YYYYMMDD>   HASH "<campaign>\\x1f<rung>\\x1f<written|failed>" -> USD
    <prefix>:spend:days         SET of the days with spend (the ledger's index)
Days are UTC (outreach/budget.day); keys expire after ``KEEP_DAYS``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import redis

from outreach.budget import day
from outreach.errors import StoreError

KEEP_DAYS = 400
SEP = "\x1f"
KINDS = ("written", "failed")


@dataclass(frozen=True)
class SpendRow:
    day: str
    campaign: str
    rung: str
    kind: str
    usd: float


class SpendLedger:
    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self._redis = client
        self._prefix = prefix

    def _key(self, on_day: str) -> str:
        return f"{self._prefix}:spend:{on_day}"

    def add(self, campaign: str, rung: str, kind: str, usd: float,
            now: float | None = None) -> None:
        if usd <= 0:
            return
        if kind not in KINDS:
            raise ValueError(f"spend kind must be one of {KINDS}, not {kind!r}")
        on_day = day(now)
        try:
            with self._redis.pipeline(transaction=True) as pipe:
                pipe.hincrbyfloat(self._key(on_day), SEP.join((campaign, rung, kind)), usd)
                pipe.expire(self._key(on_day), KEEP_DAYS * 24 * 3600)
                pipe.sadd(f"{self._prefix}:spend:days", on_day)
                pipe.execute()
        except redis.RedisError as exc:
            raise StoreError(f"recording spend failed: {exc}") from exc

    def rows(self, days: list[str] | None = None) -> list[SpendRow]:
        """Every ledger line of ``days`` (default: all recorded), oldest day first."""
        try:
            if days is None:
                days = sorted(d.decode() for d in
                              self._redis.smembers(f"{self._prefix}:spend:days"))
            out = []
            for on_day in days:
                for field, usd in self._redis.hgetall(self._key(on_day)).items():
                    campaign, rung, kind = field.decode().split(SEP)
                    out.append(SpendRow(on_day, campaign, rung, kind, float(usd)))
            return out
        except redis.RedisError as exc:
            raise StoreError(f"reading the spend ledger failed: {exc}") from exc


def totals(rows: list[SpendRow], by: tuple[str, ...]) -> dict[tuple[str, ...], float]:
    """USD summed by the named SpendRow fields, e.g. ("rung",) or ("campaign", "day")."""
    out: dict[tuple[str, ...], float] = defaultdict(float)
    for row in rows:
        out[tuple(getattr(row, name) for name in by)] += row.usd
    return dict(out)
