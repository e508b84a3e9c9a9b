"""Periodic champion/challenger evaluation: KPI totals -> decisions -> state + ab.decisions.

Runs from a timer in every feedback worker; a Redis lock (SET NX PX, slightly shorter than the
interval) lets one of them evaluate per interval. The ABDecision schema is registered with the
codec here when the codec does not know it yet (schemas/codec.py lists the project's records).
"""

from __future__ import annotations

import logging
import time

import redis
import redis.asyncio as aioredis
from prometheus_client import Gauge

from outreach.errors import StoreError
from outreach.settings import ABTestSettings, Settings
from outreach.topics import AB_DECISIONS
from schemas.codec import AvroCodec
from streams.abtest import ABState, ArmStats, decision_record, evaluate, state_key
from streams.kpi import KpiStore, effective
from streams.synthetic import included

log = logging.getLogger(__name__)
CHAMPION = Gauge("outreach_ab_champion", "1 for the current champion variant", ["variant"])
PROB_BEAT = Gauge("outreach_ab_prob_beat_champion", "P(challenger beats champion)", ["variant"])


def arm_stats(counts: dict[str, float]) -> ArmStats:
    return ArmStats(sends=int(counts.get("sent", 0)), positive=int(counts.get("positive_reply", 0)),
                    unsubscribed=int(counts.get("unsubscribed", 0)),
                    complained=int(counts.get("complained", 0)),
                    bounced=int(counts.get("bounced", 0)))


async def load_ab_state(client: aioredis.Redis, key_prefix: str, cfg: ABTestSettings
                        ) -> ABState:
    """The stored A/B state, or the configured initial one (async twin of abtest.load_state)."""
    try:
        raw = await client.get(state_key(key_prefix))
    except redis.RedisError as exc:
        raise StoreError(f"cannot read A/B state: {exc}") from exc
    return ABState.from_json(raw) if raw else ABState.initial(cfg)


class ABStateCache:
    """The A/B state for routers, re-read from Redis at most every ``state_refresh_s``.

    A Redis hiccup keeps the last known state (routing must not stop for the A/B test).
    """

    def __init__(self, client: aioredis.Redis, key_prefix: str, cfg: ABTestSettings) -> None:
        self.client, self.prefix, self.cfg = client, key_prefix, cfg
        self._state, self._read_at = ABState.initial(cfg), float("-inf")

    async def get(self) -> ABState:
        if time.monotonic() - self._read_at >= self.cfg.state_refresh_s:
            try:
                self._state = await load_ab_state(self.client, self.prefix, self.cfg)
            except StoreError as exc:
                log.warning("keeping the last A/B state: %s", exc)
            self._read_at = time.monotonic()
        return self._state


class ABEvaluator:
    def __init__(self, settings: Settings, client: aioredis.Redis, kpi: KpiStore,
                 codec: AvroCodec) -> None:
        self.cfg = settings.abtest
        self.redis = client
        self.kpi = kpi
        self.codec = codec
        self.prefix = settings.redis.key_prefix

    async def load(self) -> ABState:
        return await load_ab_state(self.redis, self.prefix, self.cfg)

    async def run_once(self, now_ms: int | None = None, force: bool = False
                       ) -> tuple[ABState, list[tuple[str, bytes, bytes]]]:
        """Evaluate if this worker holds the lock; returns the state and records to publish.

        The state is saved before the decisions are published: a crash in between loses the
        event but not the decision (the log line and the state's history keep the evidence).
        """
        now_ms = now_ms or int(time.time() * 1000)
        lock_ms = max(100, int(self.cfg.evaluate_interval_s * 900))
        try:
            if not force and not await self.redis.set(f"{self.prefix}:ab:lock", now_ms, nx=True,
                                                      px=lock_ms):
                return await self.load(), []
        except redis.RedisError as exc:
            raise StoreError(f"cannot take the A/B lock: {exc}") from exc
        dims = [f"variant:{v.name}" for v in self.cfg.variants]
        totals = await self.kpi.totals(dims)
        # Intention to treat (abtest.DECISION_BASIS), real events plus, when asked, simulated.
        include = included(self.cfg.include_simulated)
        arms = {v.name: arm_stats(effective(totals.get(f"variant:{v.name}", {}), include))
                for v in self.cfg.variants}
        state, decisions = evaluate(await self.load(), arms, self.cfg, now_ms)
        try:
            await self.redis.set(state_key(self.prefix), state.to_json())
        except redis.RedisError as exc:
            raise StoreError(f"cannot write A/B state: {exc}") from exc
        for variant in self.cfg.variants:
            CHAMPION.labels(variant.name).set(1 if variant.name == state.champion else 0)
            prob = state.evidence.get(variant.name, {}).get("prob_beat")
            if prob is not None:
                PROB_BEAT.labels(variant.name).set(prob)
        records = []
        for ev in decisions:
            record = decision_record(ev, now_ms)
            records.append((AB_DECISIONS, record["decision_id"].encode(),
                            self.codec.encode("ABDecision", record, topic=AB_DECISIONS)))
        return state, records
