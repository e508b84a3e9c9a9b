"""The LLM budget's Redis counters on a real redis-server: global and per-campaign caps."""

from __future__ import annotations

from outreach.budget import Budget, today_spend
from outreach.settings import BudgetSettings
from outreach.store import sync_client


def test_caps_stop_calls_globally_and_per_campaign(settings):
    client = sync_client(settings.redis_url)
    prefix = settings.redis.key_prefix
    budget = Budget(client, prefix, BudgetSettings(daily_usd=0.010,
                                                   per_campaign_usd={"small": 0.002}))
    assert budget.check("small").allowed and budget.check("big").allowed
    budget.add("small", 0.0015)
    assert budget.check("small").allowed  # 0.0015 < 0.002
    budget.add("small", 0.0010)
    verdict = budget.check("small")
    assert not verdict.allowed and "campaign small" in verdict.reason and "$0.0025" in verdict.reason
    assert budget.check("big").allowed  # another campaign has no cap of its own
    budget.add("big", 0.0080)
    stopped = budget.check("big")
    assert not stopped.allowed and "daily LLM budget" in stopped.reason
    budget.blocked("big")
    budget.blocked("small")
    spend, blocked = today_spend(client, prefix)
    assert spend["_total"] == spend["small"] + spend["big"]
    assert round(spend["_total"], 6) == 0.0105
    assert blocked == {"_total": 2, "big": 1, "small": 1}


def test_no_cap_means_no_stop(settings):
    budget = Budget(sync_client(settings.redis_url), settings.redis.key_prefix,
                    BudgetSettings(daily_usd=None))
    budget.add("any", 1000.0)
    assert budget.check("any").allowed
