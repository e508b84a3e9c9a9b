"""One spend ledger (per campaign, rung, day), read alike by the dashboard's ladder table, the
campaign view, /metrics and the demo's summary table (real Redis and broker)."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from apps.llm_arm import rung_table
from engagement.campaign_page import campaign_view
from engagement.operator import OperatorCollector, OperatorView
from engagement.ops_page import rung_table as dashboard_rung_table
from outreach.spend import SpendLedger, totals
from outreach.store import sync_client

pytestmark = pytest.mark.integration
LINES = [("ca", "miniature", "written", 0.00021), ("ca", "miniature", "failed", 0.00009),
         ("ca", "llm", "written", 0.0017), ("cb", "llm", "failed", 0.0023),
         ("cb", "miniature", "written", 0.00042)]


def test_every_reader_shows_the_ledger(settings):
    ledger = SpendLedger(sync_client(settings.redis_url), settings.redis.key_prefix)
    for campaign, rung, kind, usd in LINES:
        ledger.add(campaign, rung, kind, usd)
    ledger.add("ca", "llm", "written", 0.0)  # nothing spent: no line
    rows = ledger.rows()
    assert len(rows) == len(LINES)
    by_rung = totals(rows, ("rung",))
    assert by_rung[("llm",)] == pytest.approx(0.004) and by_rung[("miniature",)] == \
        pytest.approx(0.00072)

    # Duplicate leads intake dropped (its stats hash) are a gauge too.
    sync_client(settings.redis_url).hincrby(f"{settings.redis.key_prefix}:stats", "duplicate", 2)
    ops = OperatorView(settings, None).collect()
    assert ops["spend"]["by_rung"]["llm"] == pytest.approx(0.004)
    assert ops["spend"]["today_by_rung"]["llm"] == pytest.approx(0.004)

    # The dashboard's ladder table: spent per rung, failed attempts apart.
    html = dashboard_rung_table(ops, {"rung:llm": {"counts": {"sent": 1, "cost_usd": 0.0017},
                                                   "rates": {}}})
    assert "$0.0040" in html and "$0.0023" in html and "$0.0017" in html

    # /metrics: the same ledger, per campaign, rung and kind.
    families = {f.name: f for f in OperatorCollector(OperatorView(settings, None)).collect()}
    samples = {tuple(s.labels[k] for k in ("campaign", "rung", "kind")): s.value
               for s in families["outreach_spend_usd"].samples}
    assert samples[("cb", "llm", "failed")] == pytest.approx(0.0023)
    assert sum(samples.values()) == pytest.approx(sum(line[3] for line in LINES))
    assert families["outreach_intake_duplicates_dropped"].samples[0].value == 2

    # The campaign view and the demo's summary.
    snapshot = {"kpis": {"campaign:cb": {"counts": {"positive_reply": 1.0, "cost_usd": 0.00042},
                                         "rates": {}}},
                "ops": ops, "ab": {"variants": [], "alpha": 0.05,
                                   "state": {"champion": "control"}}}
    view = campaign_view(snapshot, "cb")
    assert view["spend"]["spent_usd"] == pytest.approx(0.00272)
    assert view["spend"]["cost_per_positive_reply_usd"] == pytest.approx(0.00272)
    out = io.StringIO()
    Console(file=out, width=200).print(rung_table(settings, []))
    text = out.getvalue()
    assert "$0.00400" in text and "$0.00230" in text and "spend today $0.00472" in text
