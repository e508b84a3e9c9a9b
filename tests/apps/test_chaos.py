"""The fault and abuse suite (apps/chaos.py) on a private embedded stack: a short run by default,
the full one (1,000 leads, 10,000 fuzzed records, Redis down 10 s) under -m slow."""

from __future__ import annotations

import pytest

from apps.chaos import run_chaos
from outreach.settings import load_settings

pytestmark = pytest.mark.integration


def check(report, leads, fuzz):
    assert report.fuzz_records == fuzz
    assert report.fuzz_dead_lettered >= fuzz and report.fuzz_without_reason == 0
    assert report.fuzz_valid_after_routed == 2 and report.intake_crashes == 0
    assert report.intake_leads == leads and report.intake_lost == 0
    assert report.intake_routed == leads
    assert report.sender_drafts == leads and report.sender_lost == 0
    assert report.intake_kills >= 1 and report.sender_kills >= 1 and report.redis_outages >= 2


def test_short_chaos_run_loses_nothing(tmp_path):
    report = run_chaos(load_settings(config_file=None), tmp_path, leads=60, fuzz=400, kills=1,
                       redis_down_s=3.0, timeout_s=240)
    print(report.markdown())
    check(report, 60, 400)


@pytest.mark.slow
def test_full_chaos_run_loses_nothing(tmp_path):
    report = run_chaos(load_settings(config_file=None), tmp_path, leads=1000, fuzz=10_000,
                       kills=2, redis_down_s=10.0, timeout_s=900)
    print(report.markdown())
    check(report, 1000, 10_000)
    assert report.sender_duplicate_sends == 0


def test_the_rebalance_row_reports_and_fails_on_a_lost_request():
    """The row `outreach chaos --rebalance` prints, and the exit status it decides."""
    from apps.chaos import ChaosReport
    from apps.chaos_rebalance import RebalanceFigures, failed

    clean = RebalanceFigures(requests=18, drafts=17, dead_letters=1, outcomes_at_kill=9)
    report = ChaosReport(rebalance={k: v for k, v in vars(clean).items() if k != "by_request"})
    table = report.markdown()
    assert "| requests, 2 workers in one group + a 3rd joining, 1 SIGKILLed mid-run | 18 |" in table
    rows = table.split("1 SIGKILLed mid-run | 18 |")[1]  # the rebalance rows, not intake's
    assert "|   drafts (distinct draft_ids) | 17 |" in rows
    assert "|   lost | 0 |" in rows and "|   duplicates (a second, different outcome) | 0 |" in rows
    assert not failed(report.rebalance) and not failed({})
    assert failed(dict(report.rebalance, lost=1))
    assert failed(dict(report.rebalance, duplicates=1))
    assert failed(dict(report.rebalance, outcomes_at_kill=18))  # the kill was not mid-run
    assert "3rd joining" not in ChaosReport().markdown()  # a run without --rebalance


@pytest.mark.slow
def test_chaos_run_with_the_rebalance_row(tmp_path):
    """The short run plus the rebalance scenario on the default model (minutes on 2 cores)."""
    report = run_chaos(load_settings(config_file=None), tmp_path, leads=20, fuzz=50, kills=1,
                       redis_down_s=2.0, timeout_s=600, rebalance=True)
    print(report.markdown())
    check(report, 20, 50)
    figures = report.rebalance
    assert figures["requests"] == 18 and figures["lost"] == 0 and figures["duplicates"] == 0
    assert figures["records_before_kill"] == 0 and figures["outcomes_at_kill"] < 18
    assert figures["drafts"] + figures["dead_letters"] == 18


@pytest.mark.slow
def test_chaos_run_with_the_hostile_set(tmp_path):
    """The whole hostile set (286 leads) through intake and the served model, the worker
    SIGKILLed once: every lead one outcome, 0 remnants in drafts that can be sent (tens of
    minutes on 2 cores; docs/results/2026-12-07-hostile-e2e.md)."""
    from apps.chaos_hostile import failed

    report = run_chaos(load_settings(), tmp_path, leads=20, fuzz=50, kills=1,
                       redis_down_s=2.0, timeout_s=600, hostile=True)
    print(report.markdown())
    check(report, 20, 50)
    figures = report.hostile
    assert figures["leads"] >= 200 and figures["worker_kills"] == 1
    identity = figures["by_expect"]["dead_letter"]  # every hostile name or company
    assert identity == {"dead-lettered at intake": sum(identity.values())}, identity
    assert not failed(figures), figures["examples"]
