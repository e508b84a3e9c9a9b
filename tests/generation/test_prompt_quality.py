"""Measure how often the untuned 270M base model, with this prompt, passes every check.

Slow (20 leads, one or two attempts each, the second grammar-constrained): run with
``pytest -m slow tests/generation/test_prompt_quality.py -s`` to see the numbers; the summary is
also written to the test's tmp dir as quality.json.
"""

from __future__ import annotations

import json
import statistics

import pytest

from tests.support.worker_helpers import make_request, sample_campaign, sample_leads
from generation.generate import draft_for_request

pytestmark = pytest.mark.slow


def test_pass_rate_of_the_checks_over_twenty_leads(generator, model_info, offline_settings,
                                                   tmp_path):
    rows = []
    for lead in sample_leads():
        outcome = draft_for_request(make_request(lead), generator, model_info, offline_settings,
                                    sample_campaign())
        first = outcome.completions[0]
        rows.append({"lead_id": lead["lead_id"], "ok": outcome.ok, "attempts": outcome.attempts,
                     "first_try_ok": outcome.ok and outcome.attempts == 1,
                     "reasons": outcome.reasons, "first_tokens": first.completion_tokens,
                     "first_seconds": first.seconds,
                     "seconds": sum(c.seconds for c in outcome.completions),
                     "body": outcome.draft["body"] if outcome.ok else None})
    summary = {
        "leads": len(rows),
        "first_try_pass": sum(r["first_try_ok"] for r in rows),
        "pass_after_retry": sum(r["ok"] for r in rows),
        "first_try_tokens_per_s": sum(r["first_tokens"] for r in rows)
        / sum(r["first_seconds"] for r in rows),
        "median_first_try_s": statistics.median(r["first_seconds"] for r in rows),
        "median_draft_s": statistics.median(r["seconds"] for r in rows),
        "max_draft_s": max(r["seconds"] for r in rows),
    }
    (tmp_path / "quality.json").write_text(json.dumps({"summary": summary, "rows": rows}, indent=1))
    print(json.dumps(summary, indent=1))
    for row in rows:
        if not row["ok"]:
            print(row["lead_id"], row["reasons"])
    # Regression guard, far below the measured rate (see the workers report): a prompt change
    # that breaks the format shows up here.
    assert summary["pass_after_retry"] >= len(rows) // 2
