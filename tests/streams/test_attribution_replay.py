"""A fixed engagement log replayed through the feedback processor (real Redis): every event is
attributed to its draft's variant, writer (arm x rung), rung, model and campaign; every family
of tables sums to the same totals; synthetic events (simulator, the demo's self-test) are kept
out of the A/B arms unless asked for, and the self-test out of them always."""

from __future__ import annotations

import asyncio

import pytest

from engagement.ab_tables import arm_rows, arms_table, campaigns_table
from engagement.campaign_page import campaign_view, render_campaign
from engagement.snapshot import SnapshotSource
from outreach.leadgen import generate
from outreach.settings import VariantSpec
from outreach.store import async_client, sync_client
from schemas.codec import AvroCodec
from streams.ab_evaluator import ABEvaluator
from streams.abtest import ArmStats, guardrail_breach
from streams.feedback_processor import FeedbackProcessor
from streams.kpi import COUNTS, effective
from streams.synthetic import mark_self_test
from tests.streams.feedback_helpers import kpi_totals, tuned
from tests.support.sample_drafts import template_draft

pytestmark = pytest.mark.integration
FAMILIES = ("variant:", "writer:", "rung:", "model:", "campaign:", "campaign-arm:")
POSITIVE = "Sounds great, can we talk on Tuesday?"


def _draft(lead, variant, rung, model, created_at):
    draft = template_draft(lead, variant, "personalized", model_id=model, created_at_ms=created_at)
    draft.update(rung=rung, tier="llm" if rung == "llm" else "small")
    return draft


def _event(draft, kind, n, source="sender", **extra):
    return {"event_id": f"{draft['draft_id']}-{kind}-{n}", "draft_id": draft["draft_id"],
            "type": kind, "email": None, "reply_text": extra.get("reply_text"), "url": None,
            "source": source, "occurred_at": draft["created_at"] + 1000 * n}


def _log(unique):
    """Four drafts, two campaigns; control's second lead was escalated to the LLM rung."""
    leads = generate(4, seed=11, campaign=f"ca-{unique}", suppressed=0).leads
    leads[1]["campaign"] = leads[3]["campaign"] = f"cb-{unique}"
    t = 1_700_000_000_000
    mini = _draft(leads[0], "control", "miniature", "mini", t)
    escalated = _draft(leads[1], "control", "llm", "llm:stand-in", t)  # control, LLM-written
    baseline = _draft(leads[2], "llm-baseline", "llm", "llm:stand-in", t)
    reviewed = _draft(leads[3], "control", "review", "mini", t)
    drafts = [mini, escalated, baseline, reviewed]
    events = [
        _event(escalated, "OPENED", 1),  # arrives before its draft: held, then released
        _event(mini, "OPENED", 1), _event(mini, "OPENED", 1),  # a duplicate counts once
        _event(mini, "OPENED", 2),  # a second open of the same draft: one opened draft
        _event(escalated, "REPLIED", 2, reply_text=POSITIVE),  # the LLM's positive reply
        _event(baseline, "OPENED", 1), _event(baseline, "BOUNCED", 2),
        _event(reviewed, "OPENED", 1, source="simulator"),
        _event(reviewed, "REPLIED", 2, source="simulator", reply_text=POSITIVE),
        _event(mini, "UNSUBSCRIBED", 3, source="one-click"),  # the demo's self-test
    ]
    return drafts, events


async def _replay(settings, drafts, events):
    codec = AvroCodec()
    processor = FeedbackProcessor(settings, async_client(settings.redis_url), codec)
    try:
        first, rest = events[0], events[1:]
        await processor.on_event(codec.encode("EngagementEvent", first), None, "e", 0, 0)
        for draft in drafts:
            await processor.on_draft(codec.encode("EmailDraft", draft))
            await processor.on_draft(codec.encode("EmailDraft", draft))  # redelivered
        for offset, event in enumerate(rest, start=1):
            await processor.on_event(codec.encode("EngagementEvent", event), None, "e", 0, offset)
    finally:
        await processor.close()


def _decide(settings):
    async def run():
        client = async_client(settings.redis_url)
        try:
            evaluator = ABEvaluator(settings, client, FeedbackProcessor(settings, client).kpi,
                                    AvroCodec())
            state, _ = await evaluator.run_once(force=True)
            snapshot = await SnapshotSource(settings, client).collect()
            return state, snapshot
        finally:
            await client.aclose()
    return asyncio.run(run())


@pytest.fixture()
def replayed(settings, unique):
    settings = tuned(settings, abtest={"enabled": True, "min_sends": 1,
                                       "variants": [VariantSpec(name="control"),
                                                    VariantSpec(name="llm-baseline",
                                                                tier="llm")]})
    drafts, events = _log(unique)
    # The demo registers its self-test click before making it (apps/one_click.py).
    mark_self_test(sync_client(settings.redis_url), settings.redis.key_prefix,
                   f"{drafts[0]['draft_id']}-UNSUBSCRIBED-3")
    asyncio.run(_replay(settings, drafts, events))
    return settings, drafts


def test_every_family_of_tables_sums_to_the_same_totals(replayed):
    settings, drafts = replayed
    totals = kpi_totals(settings)
    everything = totals["all"]
    assert everything["sent"] == 4 and everything["cost_usd"] == pytest.approx(4 * 0.00021)
    fields = set(everything)  # real and synthetic fields alike
    assert {"simulated:opened", "self_test:unsubscribed", "positive_reply"} <= fields
    for family in FAMILIES:
        dims = [d for d in totals if d.startswith(family)]
        assert dims, family
        for name in fields | set(COUNTS):
            assert sum(totals[d].get(name, 0.0) for d in dims) == pytest.approx(
                everything.get(name, 0.0)), (family, name)
    # Real events: 3 opened drafts (one open held until its draft came), 1 positive reply,
    # 1 bounce; the duplicate and the second open of one draft count once.
    assert everything["opened"] == 3 and everything["events"] == 6
    assert everything["positive_reply"] == 1 and everything["bounced"] == 1
    assert everything.get("unsubscribed", 0) == 0 and everything["self_test:unsubscribed"] == 1
    assert everything["simulated:positive_reply"] == 1


def test_escalated_drafts_are_reported_apart_from_the_miniature_arm(replayed):
    settings, drafts = replayed
    totals = kpi_totals(settings)
    # The LLM wrote control's positive reply: filed under the LLM rung and writer, never the
    # miniature's (the issue: all events were filed under rung:miniature).
    assert totals["rung:llm"]["positive_reply"] == 1 and totals["rung:llm"]["sent"] == 2
    assert totals["writer:control/llm"]["positive_reply"] == 1
    assert totals["writer:control/miniature"].get("positive_reply", 0) == 0
    assert totals["writer:control/miniature"]["sent"] == 1
    assert totals["model:llm:stand-in-personalized@1"]["positive_reply"] == 1
    assert totals[f"campaign:{drafts[1]['campaign']}"]["positive_reply"] == 1

    state, snapshot = _decide(settings)
    rows = {r["arm"]: r for r in arm_rows(snapshot["kpis"], snapshot["ab"]["variants"])}
    assert rows["control"]["own_writer"] == "miniature"
    assert rows["control"]["itt"]["sent"] == 3 and rows["control"]["itt"]["positive_reply"] == 1
    assert rows["control"]["per_writer"]["sent"] == 1
    assert rows["control"]["per_writer"].get("positive_reply", 0) == 0
    assert set(rows["control"]["escalated"]) == {"llm", "review"}
    assert rows["llm-baseline"]["own_writer"] == "llm"
    html = arms_table(snapshot["kpis"], snapshot["ab"]["variants"], snapshot["ab"]["basis"])
    assert "intention to treat" in html and 'data-figures="escalated" data-rung="llm"' in html
    # Decisions use intention to treat, and say so.
    assert state.arms["control"]["sends"] == 3 and state.arms["control"]["positive"] == 1


def test_synthetic_events_stay_out_of_decisions_and_guardrails(replayed):
    settings, drafts = replayed
    state, snapshot = _decide(settings)
    control = state.arms["control"]
    # The self-test unsubscribe is no unsubscribe for the guardrail (it was 1 of 3 = 33%),
    # and the simulator's reply is no positive reply for the decision.
    assert control["unsubscribed"] == 0 and control["positive"] == 1
    assert guardrail_breach(ArmStats(**control), settings.abtest) is None
    # (the baseline's real bounce does break one: the guardrail works on real events)
    assert "bounce" in (guardrail_breach(ArmStats(**state.arms["llm-baseline"]), settings.abtest)
                        or "")
    assert snapshot["kpis"]["all"]["synthetic"] == {"simulated": 2, "self_test": 1}
    assert snapshot["kpis"]["variant:control"]["counts"].get("unsubscribed", 0) == 0

    # Asked for (the demo's simulator is all it has), simulated events count; the self-test
    # still does not.
    asked = tuned(settings, abtest={"include_simulated": True})
    state, snapshot = _decide(asked)
    assert state.arms["control"]["positive"] == 2 and state.arms["control"]["unsubscribed"] == 0
    assert snapshot["kpis"]["all"]["synthetic"] == {"self_test": 1}
    counts = effective(kpi_totals(settings)["variant:control"], ("simulated",))
    assert counts["opened"] == 3 and counts.get("unsubscribed", 0) == 0


def test_the_campaign_view_agrees_with_the_campaign_tables(replayed):
    settings, drafts = replayed
    _state, snapshot = _decide(settings)
    campaign_b = drafts[1]["campaign"]
    view = campaign_view(snapshot, campaign_b)
    kpi = snapshot["kpis"][f"campaign:{campaign_b}"]["counts"]
    assert view["funnel"]["sent"] == kpi["sent"] == 2
    assert view["funnel"]["positive replies"] == 1  # the escalated draft's real reply
    assert view["synthetic_left_out"] == {"simulated": 2}  # the reviewed draft's, shown apart
    arms = {a["arm"]: a for a in view["ab"]}
    assert arms["control"]["sent"] == 2 and arms["llm-baseline"]["sent"] == 0
    # Each campaign's arm rows sum to the campaign's row.
    for campaign in {d["campaign"] for d in drafts}:
        rows = campaign_view(snapshot, campaign)["ab"]
        assert sum(a["sent"] for a in rows) == snapshot["kpis"][f"campaign:{campaign}"][
            "counts"]["sent"]
    page = render_campaign(snapshot, campaign_b, "/dashboard")
    assert f'<span id="campaign-id">{campaign_b}</span>' in page
    assert f'href="/dashboard/campaigns/{campaign_b}"' in campaigns_table(snapshot["kpis"],
                                                                           "/dashboard")
