"""Champion/challenger decisions, guardrails, rollback and traffic allocation."""

import random
from collections import Counter

import pytest

from outreach.errors import StoreError
from outreach.settings import ABTestSettings, VariantSpec
from streams.abtest import ABState, ArmStats, choose_variant, decision_record, evaluate, lead_rng


def cfg(**kw) -> ABTestSettings:
    base = dict(enabled=True, champion="control", min_sends=300,
                variants=[VariantSpec(name="control"), VariantSpec(name="mini-v2"),
                          VariantSpec(name="llm-baseline", tier="llm")])
    return ABTestSettings(**{**base, **kw})


def test_collecting_below_minimum_sample():
    c = cfg()
    state, decisions = evaluate(ABState.initial(c), {"control": ArmStats(200, 8),
                                                     "mini-v2": ArmStats(200, 20)}, c)
    assert decisions == [] and state.champion == "control"
    assert state.evidence["mini-v2"]["action"] == "collecting"


def test_promotes_a_significantly_better_challenger_with_evidence():
    c = cfg()
    arms = {"control": ArmStats(1000, 40), "mini-v2": ArmStats(1000, 70),
            "llm-baseline": ArmStats(1000, 45)}
    state, decisions = evaluate(ABState.initial(c), arms, c, now_ms=1)
    assert [d.action for d in decisions] == ["promote"]
    assert state.champion == "mini-v2" and state.previous_champion == "control"
    ev = decisions[0]
    assert ev.p_value < 0.05 and ev.prob_beat > 0.95
    record = decision_record(ev, 1)
    assert record["action"] == "PROMOTE" and record["decision_id"].startswith("abd-")
    assert state.evidence["llm-baseline"]["action"] == "continue"


def test_guardrail_stops_a_challenger_with_too_many_unsubscribes():
    c = cfg()
    arms = {"control": ArmStats(1000, 40, unsubscribed=5),
            "mini-v2": ArmStats(1000, 90, unsubscribed=40)}  # 4% > 2%
    state, decisions = evaluate(ABState.initial(c), arms, c)
    assert [d.action for d in decisions] == ["stop"]
    assert "unsubscribe" in decisions[0].reason and state.champion == "control"
    assert "mini-v2" in state.retired


def test_rollback_when_the_promoted_champion_breaks_a_guardrail():
    c = cfg()
    state = ABState(champion="mini-v2", previous_champion="control")
    arms = {"control": ArmStats(2000, 80), "mini-v2": ArmStats(2000, 150, complained=20)}
    state, decisions = evaluate(state, arms, c)
    assert decisions[0].action == "rollback" and state.champion == "control"
    assert "mini-v2" in state.retired and state.previous_champion is None


def test_retires_a_significantly_worse_challenger():
    c = cfg()
    state, decisions = evaluate(ABState.initial(c), {"control": ArmStats(1500, 90),
                                                     "mini-v2": ArmStats(1500, 45)}, c)
    assert [d.action for d in decisions] == ["retire"] and "mini-v2" in state.retired


def test_split_allocation_follows_weights_and_is_sticky_per_lead():
    c = cfg(variants=[VariantSpec(name="control", weight=3), VariantSpec(name="mini-v2")])
    state = ABState.initial(c)
    counts = Counter(choose_variant({}, c.variants, state, random.Random(i)).name
                     for i in range(4000))
    assert 0.72 < counts["control"] / 4000 < 0.78
    lead = {"lead_id": "L1", "campaign": "c"}
    assert len({choose_variant(lead, c.variants, state, lead_rng(lead)).name
                for _ in range(20)}) == 1


def test_thompson_sends_most_traffic_to_the_better_arm_and_skips_retired():
    c = cfg(allocation="thompson")
    state = ABState(champion="control", allocation="thompson", retired=["llm-baseline"],
                    arms={"control": {"sends": 500, "positive": 15},
                          "mini-v2": {"sends": 500, "positive": 40},
                          "llm-baseline": {"sends": 500, "positive": 90}})
    rng = random.Random(5)
    counts = Counter(choose_variant({}, c.variants, state, rng).name for _ in range(2000))
    assert counts["llm-baseline"] == 0 and counts["mini-v2"] > 0.95 * 2000


def test_apply_variant_sets_variant_and_tier_only_when_enabled():
    from outreach.settings import RoutingRule
    from streams.abtest import apply_variant

    rule = RoutingRule(name="default", tier="small")
    lead = {"lead_id": "L9", "campaign": "c"}
    on = cfg(variants=[VariantSpec(name="llm-baseline", tier="llm", weight=1),
                       VariantSpec(name="control", weight=0)])
    routed = apply_variant(rule, lead, on, ABState.initial(on))
    assert (routed.variant, routed.tier) == ("llm-baseline", "llm")
    off = cfg(enabled=False)
    assert apply_variant(rule, lead, off, ABState.initial(off)) is rule


def test_a_router_keeps_its_last_state_when_the_stored_one_is_unreadable(settings):
    """Another process writes the A/B state key; a value this version cannot read (a field it
    does not know, or not JSON) must not stop routing: the cache keeps the last state it read.
    Before, the router raised TypeError out of ``ABStateCache.get``."""
    import asyncio

    from outreach.store import async_client
    from streams.ab_evaluator import ABStateCache
    from streams.abtest import state_key

    cfg = settings.abtest.model_copy(update={"state_refresh_s": 0.0})

    async def run():
        client = async_client(settings.redis_url)
        try:
            cache = ABStateCache(client, settings.redis.key_prefix, cfg)
            first = await cache.get()
            for bad in ('{"champion": "x", "<b>new_field</b>": 1}', "not json"):
                await client.set(state_key(settings.redis.key_prefix), bad)
                assert await cache.get() == first
        finally:
            await client.aclose()

    asyncio.run(run())
    with pytest.raises(StoreError, match="unreadable"):
        ABState.from_json("not json")
