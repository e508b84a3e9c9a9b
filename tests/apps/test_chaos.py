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
