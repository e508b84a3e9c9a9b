"""What the dashboard shows, gathered in one place: KPIs, A/B state, suppression, lag.

Consumer lag is read with confluent-kafka (committed offsets of a group vs the partitions' high
watermarks) in a worker thread, and cached for ``LAG_CACHE_S`` so a page refresh every few
seconds costs the broker one metadata round per group, not one per request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import redis
import redis.asyncio as aioredis
from confluent_kafka import Consumer, KafkaException, TopicPartition

from outreach.errors import KafkaError, StoreError
from outreach.kafka import consumer_config
from outreach.settings import TIERS, Settings
from outreach.topics import DRAFTS, ENGAGEMENT, LEADS, LEADS_JSON, requests_topic
from sending.status import paused as sending_paused
from streams.ab_evaluator import load_ab_state
from streams.abtest import DECISION_BASIS
from streams.kpi import KpiStore, effective, rates, synthetic_events
from streams.synthetic import included

log = logging.getLogger(__name__)
LAG_CACHE_S = 5.0
SERIES_WINDOWS = 30  # points per line on the plots


def lag_groups(settings: Settings) -> dict[str, list[str]]:
    """Every consumer group of the pipeline and what it reads: backlog builds at the workers
    and the sender, so they are listed with intake and feedback."""
    prefix = settings.kafka.group_prefix
    groups = {f"{prefix}-intake": [LEADS, LEADS_JSON], f"{prefix}-feedback": [DRAFTS, ENGAGEMENT]}
    for tier in TIERS:
        groups[f"{prefix}-worker-{tier}"] = [requests_topic(tier)]
    groups[f"{prefix}-sender"] = [DRAFTS]
    return groups


def consumer_lag(settings: Settings, group: str, topics: list[str]) -> dict[str, int]:
    """Messages not yet committed by ``group`` per topic (blocking; run it in a thread)."""
    consumer = Consumer(consumer_config(settings, group))
    try:
        metadata = consumer.list_topics(timeout=5)
        parts = [TopicPartition(t, p) for t in topics if t in metadata.topics
                 for p in metadata.topics[t].partitions]
        committed = consumer.committed(parts, timeout=5)
        lag: dict[str, int] = {t: 0 for t in topics}
        for tp in committed:
            low, high = consumer.get_watermark_offsets(tp, timeout=5)
            start = tp.offset if tp.offset >= 0 else low
            lag[tp.topic] += max(0, high - start)
        return lag
    except KafkaException as exc:
        raise KafkaError(f"cannot read lag of {group}: {exc}") from exc
    finally:
        consumer.close()


def kpi_entry(raw: dict[str, float], include: tuple[str, ...]) -> dict[str, Any]:
    counts = effective(raw, include)
    return {"counts": counts, "rates": rates(counts),
            "synthetic": {origin: n for origin, n in synthetic_events(raw).items()
                          if origin not in include}}


class SnapshotSource:
    def __init__(self, settings: Settings, client: aioredis.Redis,
                 operator: Any = None) -> None:
        self.settings = settings
        self.redis = client
        self.operator = operator  # engagement.operator.OperatorView: ladder, budget, DLQ, lag
        fb = settings.feedback
        self.kpi = KpiStore(client, settings.redis.key_prefix, fb.kpi_window_s,
                            fb.kpi_windows_kept, fb.state_ttl_s)
        self._lag: tuple[float, dict[str, dict[str, int]]] = (0.0, {})

    async def lag(self) -> dict[str, dict[str, int]]:
        cached_at, value = self._lag
        if time.monotonic() - cached_at < LAG_CACHE_S:
            return value
        out = {}
        for group, topics in lag_groups(self.settings).items():
            try:
                out[group] = await asyncio.to_thread(consumer_lag, self.settings, group, topics)
            except KafkaError as exc:
                log.warning("%s", exc)
        self._lag = (time.monotonic(), out)
        return out

    async def collect(self, now_ms: int | None = None) -> dict[str, Any]:
        now_ms = now_ms or int(time.time() * 1000)
        ops = await asyncio.to_thread(self.operator.collect) if self.operator else {}
        dims = await self.kpi.dims()
        totals = await self.kpi.totals(dims)
        variants = [d for d in dims if d.startswith("variant:")]
        include = included(self.settings.abtest.include_simulated)
        series = await self.kpi.series(now_ms, SERIES_WINDOWS, [*variants, "all"], include)
        # A stored state this version cannot read is a StoreError (ABState.from_json): the
        # page reports it (503, with the reason), not a crash of the dashboard.
        state = await load_ab_state(self.redis, self.settings.redis.key_prefix,
                                    self.settings.abtest)
        try:
            suppressed = await self.redis.scard(self.settings.redis.suppression_key)
            stats = {k.decode(): int(float(v)) for k, v in (await self.redis.hgetall(
                f"{self.settings.redis.key_prefix}:stats")).items()}
        except redis.RedisError as exc:
            raise StoreError(f"cannot read suppression counts: {exc}") from exc
        # The sending engine's pauses: the banner an operator must not miss (sending/status.py).
        paused = await asyncio.to_thread(sending_paused, self.settings)
        return {
            "generated_at": now_ms,
            "paused": paused,
            "window_s": self.settings.feedback.kpi_window_s,
            # The counts decisions use: real events, plus simulated ones when the A/B test is
            # told to include them; what was left out is listed per dimension ("synthetic").
            "kpis": {dim: kpi_entry(counts, include) for dim, counts in totals.items()},
            "include_simulated": self.settings.abtest.include_simulated,
            "series": series,
            "ab": {"enabled": self.settings.abtest.enabled,
                   "variants": [v.model_dump() for v in self.settings.abtest.variants],
                   "min_sends": self.settings.abtest.min_sends,
                   "alpha": self.settings.abtest.alpha,
                   "promote_probability": self.settings.abtest.promote_probability,
                   "basis": DECISION_BASIS,
                   "state": state.__dict__},
            "suppression": {"addresses": suppressed,
                            "suppressed_at_intake": stats.get("suppressed", 0),
                            # leads intake dropped as repeats of one seen before (lead + campaign)
                            "duplicates_at_intake": stats.get("duplicate", 0),
                            "suppressed_at_send": stats.get("suppressed_at_send", 0)},
            "lag": ops["lag"] if ops else await self.lag(),
            "ops": ops,
        }
