"""KPI tables: counters per variant, writer, rung, model and campaign, cumulative and windowed.

Hashes in Redis (``<prefix>:kpi:``), one per dimension: "all", "variant:<arm>" (intention to
treat: every lead the A/B test assigned to the arm, whoever wrote its email), "writer:<arm>/<rung>"
(the arm's drafts by the rung that wrote them: per-writer figures), "rung:<rung>",
"model:<id>@<ver>", "campaign:<id>" and "campaign-arm:<id>/<arm>". Every record counts in every dimension of its draft, so
each family of tables sums to "all". ``total:<dim>`` for A/B decisions and
``w:<window start ms>:<dim>`` for plots over time, expiring after ``kpi_windows_kept`` windows.

Synthetic events (streams/synthetic.py) count in the same hashes under prefixed fields
("simulated:opened", "self_test:unsubscribed") and per-draft flags, so a real open after a
simulated one still counts, and ``effective`` decides per reader which origins are included. A record is counted by one Lua script that first
claims its id (SET NX) and then increments, so a redelivered or duplicated record counts once
even across a crash; an engagement type counts once per draft (two opens = one opened draft).

Windowed rates divide a window's events by that window's sends, i.e. they mix cohorts; the
cumulative totals are the cohort-correct numbers and the ones A/B decisions use.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import redis
import redis.asyncio as aioredis

from outreach.errors import StoreError

COUNTS = ("sent", "delivered", "opened", "clicked", "replied", "positive_reply", "bounced",
          "unsubscribed", "complained")
RATES = {"open_rate": "opened", "click_rate": "clicked", "reply_rate": "replied",
         "positive_reply_rate": "positive_reply", "bounce_rate": "bounced",
         "unsubscribe_rate": "unsubscribed", "complaint_rate": "complained"}
COUNT_ONCE = """
local n = #KEYS - 2
local pos = 3
local ttls = {}
for i = 1, n do ttls[i] = tonumber(ARGV[pos]); pos = pos + 1 end
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then return 0 end
while pos <= #ARGV do
  local flag, fields = ARGV[pos], tonumber(ARGV[pos + 1])
  pos = pos + 2
  local first = 1
  if flag ~= '' then first = redis.call('SADD', KEYS[2], flag) end
  if first == 1 then
    for f = 0, fields - 1 do
      for i = 1, n do
        redis.call('HINCRBYFLOAT', KEYS[2 + i], ARGV[pos + 2 * f], ARGV[pos + 2 * f + 1])
      end
    end
  end
  pos = pos + 2 * fields
end
redis.call('EXPIRE', KEYS[2], ARGV[2])
for i = 1, n do if ttls[i] > 0 then redis.call('EXPIRE', KEYS[2 + i], ttls[i]) end end
return 1
"""


@dataclass(frozen=True)
class Increment:
    """Fields incremented together, once per draft when ``flag`` is set (else every time)."""

    flag: str
    fields: dict[str, float]


def dimensions(draft: Mapping[str, Any]) -> list[str]:
    version = draft.get("model_version") or "-"
    # rung: the escalation rung that wrote the draft (miniature | llm | review). The draft
    # summary the join keeps must carry it (streams/attribution.DRAFT_FIELDS), or every event
    # would be filed under the miniature.
    rung = draft.get("rung") or "miniature"
    return ["all", f"variant:{draft.get('variant')}", f"writer:{draft.get('variant')}/{rung}",
            f"rung:{rung}", f"model:{draft.get('model_id')}@{version}",
            f"campaign:{draft.get('campaign')}",
            f"campaign-arm:{draft.get('campaign')}/{draft.get('variant')}"]


def tagged(increments: list[Increment], origin: str) -> list[Increment]:
    """``increments`` of a synthetic event: flags and fields prefixed by its origin."""
    if not origin:
        return increments
    return [Increment(f"{origin}:{inc.flag}" if inc.flag else "",
                      {f"{origin}:{name}": amount for name, amount in inc.fields.items()})
            for inc in increments]


def effective(counts: dict[str, float], include: tuple[str, ...] = ()) -> dict[str, float]:
    """Real counts plus those of the synthetic origins in ``include``."""
    out = {name: value for name, value in counts.items() if ":" not in name}
    for name, value in counts.items():
        origin, _, plain = name.partition(":")
        if plain and origin in include:
            out[plain] = out.get(plain, 0.0) + value
    return out


def synthetic_events(counts: dict[str, float]) -> dict[str, float]:
    """Synthetic events counted per origin (shown beside the tables that leave them out)."""
    return {name.partition(":")[0]: value for name, value in counts.items()
            if name.endswith(":events")}


def rates(counts: dict[str, float]) -> dict[str, float | None]:
    sent = counts.get("sent", 0.0)
    out: dict[str, float | None] = {name: (counts.get(field, 0.0) / sent if sent else None)
                                    for name, field in RATES.items()}
    cost, positive = counts.get("cost_usd", 0.0), counts.get("positive_reply", 0.0)
    out["cost_per_draft_usd"] = cost / sent if sent else None
    out["cost_per_positive_reply_usd"] = cost / positive if positive else None
    return out


class KpiStore:
    def __init__(self, client: aioredis.Redis, key_prefix: str, window_s: int,
                 windows_kept: int, claim_ttl_s: int) -> None:
        self.redis = client
        self.prefix = f"{key_prefix}:kpi"
        self.claims = f"{key_prefix}:fb"
        self.window_ms = window_s * 1000
        self.windows_kept = windows_kept
        self.claim_ttl_s = claim_ttl_s
        self._count = client.register_script(COUNT_ONCE)

    def window_start(self, at_ms: int) -> int:
        return at_ms - at_ms % self.window_ms

    async def count_once(self, claim_id: str, claim: str, draft: Mapping[str, Any], at_ms: int,
                         increments: list[Increment]) -> bool:
        """Count a record (draft or event) unless ``claim_id`` was counted before."""
        dims = dimensions(draft)
        window = self.window_start(at_ms)
        keys = [f"{self.claims}:claim:{claim_id}", f"{self.claims}:flags:{draft['draft_id']}"]
        ttls: list[int] = []
        for dim in dims:
            keys += [f"{self.prefix}:total:{dim}", f"{self.prefix}:w:{window}:{dim}"]
            ttls += [0, self.window_ms // 1000 * self.windows_kept]
        args: list[Any] = [claim, self.claim_ttl_s, *ttls]
        for inc in increments:
            args += [inc.flag, len(inc.fields)]
            for field, amount in inc.fields.items():
                args += [field, amount]
        try:
            counted = await self._count(keys=keys, args=args)
            if counted:
                await self.redis.sadd(f"{self.prefix}:dims", *dims)
        except redis.RedisError as exc:
            raise StoreError(f"cannot count {claim_id}: {exc}") from exc
        return bool(counted)

    # -- reading -----------------------------------------------------------------------------
    async def dims(self) -> list[str]:
        try:
            return sorted(d.decode() for d in await self.redis.smembers(f"{self.prefix}:dims"))
        except redis.RedisError as exc:
            raise StoreError(f"cannot list KPI dimensions: {exc}") from exc

    async def totals(self, dims: list[str] | None = None) -> dict[str, dict[str, float]]:
        dims = dims if dims is not None else await self.dims()
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for dim in dims:
                    pipe.hgetall(f"{self.prefix}:total:{dim}")
                raw = await pipe.execute()
        except redis.RedisError as exc:
            raise StoreError(f"cannot read KPI totals: {exc}") from exc
        return {dim: _floats(h) for dim, h in zip(dims, raw)}

    async def series(self, now_ms: int, windows: int, dims: list[str] | None = None,
                     include: tuple[str, ...] = ()) -> dict[str, list[dict[str, Any]]]:
        """The last ``windows`` windows per dimension, oldest first (empty windows included);
        counts of the synthetic origins in ``include`` added to the real ones."""
        dims = dims if dims is not None else await self.dims()
        last = self.window_start(now_ms)
        starts = [last - i * self.window_ms for i in range(min(windows, self.windows_kept))][::-1]
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for dim in dims:
                    for start in starts:
                        pipe.hgetall(f"{self.prefix}:w:{start}:{dim}")
                raw = await pipe.execute()
        except redis.RedisError as exc:
            raise StoreError(f"cannot read KPI windows: {exc}") from exc
        out: dict[str, list[dict[str, Any]]] = {}
        for index, dim in enumerate(dims):
            rows = raw[index * len(starts):(index + 1) * len(starts)]
            out[dim] = [{"window_start": start, **dict.fromkeys((*COUNTS, "events"), 0.0),
                         **effective(_floats(h), include), **rates(effective(_floats(h), include))}
                        for start, h in zip(starts, rows)]
        return out


def _floats(raw: dict[bytes, bytes]) -> dict[str, float]:
    return {key.decode(): float(value) for key, value in raw.items()}
