"""The operator's view: ladder, budget, approval queue, dead letters, lag, latency, speed.

``operator_view`` gathers it (blocking: Redis and Kafka calls; the app runs it in a thread) for
the dashboard and /api/snapshot; ``OperatorCollector`` exports the same numbers as Prometheus
gauges on the dashboard's /metrics, computed at scrape time so every gauge always has samples.
Money is in USD.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from typing import Any

import redis
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from engagement.ops_reader import OpsReader
from engagement.snapshot import consumer_lag, lag_groups
from outreach.budget import TOTAL, day, today_spend
from outreach.spend import SpendLedger, SpendRow, totals
from outreach.errors import KafkaError, StoreError
from outreach.held import HeldDrafts
from outreach.settings import Settings
from outreach.store import sync_client

log = logging.getLogger(__name__)
CACHE_S = 5.0  # a scrape every few seconds costs one round of broker/Redis reads


class OperatorView:
    def __init__(self, settings: Settings, reader: OpsReader | None) -> None:
        self.settings = settings
        self.reader = reader
        self.redis = sync_client(settings.redis_url) if settings.redis_url else None
        self.held = (HeldDrafts(self.redis, settings.redis.key_prefix,
                                settings.approval.item_ttl_s) if self.redis else None)
        self._cache: tuple[float, dict[str, Any]] = (0.0, {})
        # Concurrent requests after the cache expired wait for one collection instead of each
        # opening a Kafka consumer per group.
        self._lock = threading.Lock()

    def collect(self) -> dict[str, Any]:
        with self._lock:
            cached_at, value = self._cache
            if value and time.monotonic() - cached_at < CACHE_S:
                return value
            value = self._collect()
            self._cache = (time.monotonic(), value)
            return value

    def _collect(self) -> dict[str, Any]:
        budget, review = self.settings.llm.budget, self.settings.training.review
        out: dict[str, Any] = {
            "llm": {"configured": bool(self.settings.llm.base_url),
                    "model": self.settings.llm.model, "label": self.settings.llm.label,
                    "usd_per_m_input": self.settings.llm.usd_per_m_input,
                    "usd_per_m_output": self.settings.llm.usd_per_m_output},
            "budget": {"cap_usd": budget.daily_usd, "per_campaign_usd": budget.per_campaign_usd,
                       "default_campaign_usd": budget.default_campaign_usd,
                       "spent_usd": {}, "blocked": {}},
            "approval": {}, "lag": {}, "spend": spend_view([]),
            "review_url": f"http://{review.host}:{review.port}/drafts/"}
        if self.redis is not None and self.held is not None:
            try:
                spent, blocked = today_spend(self.redis, self.settings.redis.key_prefix)
                out["budget"].update(spent_usd=spent, blocked=blocked)
                out["approval"] = self.held.counts()
                stats = self.redis.hgetall(f"{self.settings.redis.key_prefix}:stats")
                out["intake"] = {k.decode(): int(float(v)) for k, v in stats.items()}
                out["spend"] = spend_view(SpendLedger(self.redis,
                                                      self.settings.redis.key_prefix).rows())
                # Waiting per campaign, for the campaign view's funnel.
                out["held_by_campaign"] = dict(collections.Counter(
                    str(i.draft.get("campaign")) for i in self.held.pending(limit=10_000)))
            except (StoreError, redis.RedisError) as exc:
                log.warning("operator view: %s", exc)
        for group, topics in lag_groups(self.settings).items():
            try:
                out["lag"][group] = consumer_lag(self.settings, group, topics)
            except KafkaError as exc:
                log.warning("%s", exc)
        out.update(self.reader.snapshot() if self.reader is not None else
                   {"dead_letters": [], "rungs": {}, "lead_to_draft_s": {}, "tokens_per_s": {}})
        return out


def spend_view(rows: list[SpendRow]) -> dict[str, Any]:
    """The spend ledger as the dashboard, the campaign view and /metrics read it."""
    today = day()
    return {"today": today,
            "rows": [vars(r) for r in rows],
            "by_rung": {k[0]: v for k, v in totals(rows, ("rung",)).items()},
            "by_rung_kind": {f"{k[0]}/{k[1]}": v for k, v in
                             totals(rows, ("rung", "kind")).items()},
            "by_campaign": {k[0]: v for k, v in totals(rows, ("campaign",)).items()},
            "today_by_rung": {k[0]: v for k, v in
                              totals([r for r in rows if r.day == today], ("rung",)).items()},
            "today_by_campaign": {k[0]: v for k, v in totals(
                [r for r in rows if r.day == today], ("campaign",)).items()}}


def _gauge(name: str, doc: str, labels: list[str],
           samples: list[tuple[list[str], float]]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=labels)
    for values, value in samples:
        family.add_metric(values, value)
    return family


class OperatorCollector(Collector):
    """Gauges of the operator's view, read at scrape time (cached ``CACHE_S``)."""

    def __init__(self, view: OperatorView) -> None:
        self.view = view

    def collect(self):  # noqa: ANN201 - prometheus_client's protocol
        try:
            v = self.view.collect()
        except Exception as exc:  # a scrape must answer; the failure is logged, not raised
            log.warning("operator metrics unavailable: %s", exc)
            return
        budget = v["budget"]
        rungs = v.get("rungs", {})
        yield _gauge("outreach_consumer_lag_records", "Records not yet committed, per group and "
                     "topic.", ["group", "topic"],
                     [([g, t], n) for g, topics in v["lag"].items() for t, n in topics.items()])
        yield _gauge("outreach_dead_letters_records", "Records on dead-letter topics, per topic "
                     "and reason.", ["topic", "reason"],
                     [([d["topic"], d["reason"]], d["count"]) for d in v["dead_letters"]])
        yield _gauge("outreach_rung_drafts", "Drafts written per escalation rung.", ["rung"],
                     [([r], t["drafts"]) for r, t in rungs.items()])
        yield _gauge("outreach_rung_cost_usd", "USD spent on drafts per escalation rung.",
                     ["rung"], [([r], t["cost_usd"]) for r, t in rungs.items()])
        yield _gauge("outreach_llm_spend_today_usd", "LLM tier spend in the current UTC day "
                     "(campaign _total = all).", ["campaign"],
                     [([c], usd) for c, usd in budget["spent_usd"].items()]
                     or [([TOTAL], 0.0)])
        yield _gauge("outreach_llm_budget_cap_usd", "Daily LLM spending cap (campaign _total = "
                     "global; -1 = no cap).", ["campaign"],
                     [([TOTAL], -1.0 if budget["cap_usd"] is None else budget["cap_usd"])]
                     + [([c], cap) for c, cap in budget["per_campaign_usd"].items()])
        yield _gauge("outreach_llm_budget_blocked_today", "Escalations the cap sent to review "
                     "today.", ["campaign"],
                     [([c], n) for c, n in budget["blocked"].items()] or [([TOTAL], 0)])
        spend = v.get("spend") or spend_view([])
        cells = totals([SpendRow(**r) for r in spend["rows"]], ("campaign", "rung", "kind"))
        yield _gauge("outreach_spend_usd", "USD spent per campaign, escalation rung and "
                     "outcome (written | failed) over the ledger's days (outreach/spend.py: the "
                     "dashboard and the demo summary read the same ledger).",
                     ["campaign", "rung", "kind"],
                     [(list(k), usd) for k, usd in sorted(cells.items())])
        intake = v.get("intake") or {}
        yield _gauge("outreach_intake_duplicates_dropped", "Leads intake dropped as repeats of "
                     "one already seen (same lead and campaign).", [],
                     [([], intake.get("duplicate", 0))])
        approval = v["approval"]
        yield _gauge("outreach_approval_drafts", "Drafts in the approval queue by state "
                     "(pending = waiting for a person).", ["state"],
                     [([s], approval.get(s, 0)) for s in ("pending", "outbox", "approved",
                                                            "edited", "rejected", "published")])
        latency = v.get("lead_to_draft_s", {})
        yield _gauge("outreach_lead_to_draft_seconds", "Lead-to-draft latency over the last "
                     "drafts.", ["quantile"],
                     [([q], latency[k]) for q, k in (("0.5", "p50"), ("0.95", "p95"))
                      if latency.get(k) is not None])
        yield _gauge("outreach_generation_tokens_per_second", "Generated tokens per second of "
                     "generation time, per rung.", ["rung"],
                     [([r], s) for r, s in v.get("tokens_per_s", {}).items() if s is not None])
