"""The follow-up eval's bookkeeping (apps/followup_eval.py), without a model: the requests it
writes are the scheduler's, and its rates count attempts, not reasons."""

from __future__ import annotations

from apps.followup_eval import CLAIMS, REPEATS, attempt_defects, follow_up, markdown, summarize
from apps.sequence_demo import STEPS
from outreach.ids import step_request_id
from tests.support.campaigns import example_campaign
from tests.sequences.seq_support import first_request, lead


def test_a_follow_up_request_is_the_schedulers() -> None:
    campaign = example_campaign("fu-eval", steps=STEPS)
    first = first_request(lead("l-1", "fu-eval", "ana@acme.example"))
    previous = {"subject": "Invoices at Acme", "body": "Hi Ana,\n\nOne.\n\nBest,\nPriya",
                "draft_id": "drf-1"}
    second = follow_up(first, campaign, 2, previous)
    assert second["request_id"] == step_request_id("l-1", "fu-eval", 2) != first["request_id"]
    assert (second["step"], second["previous_subject"], second["thread_draft_ids"]) == (
        2, "Invoices at Acme", ["drf-1"])
    third = follow_up(second, campaign, 3, {**previous, "draft_id": "drf-2"})
    assert third["thread_draft_ids"] == ["drf-1", "drf-2"]


def test_rates_count_attempts_with_the_defect() -> None:
    rejections = [f"attempt 1: {REPEATS}: 'x'", f"attempt 1: {CLAIMS} the CRM does not record: 'y'",
                  f"attempt 2: {REPEATS}: 'z'", "attempt 2: too short", "attempt 3: too short"]
    assert attempt_defects(rejections, 4) == {REPEATS: 2, CLAIMS: 1, "attempts": 4}
    rows = [{"step": 2, "outcome": "sent", "first_try": False, "reasons": rejections,
             "repeats_first_email": [], **attempt_defects(rejections, 4)},
            {"step": 2, "outcome": "held", "first_try": False, "reasons": [],
             **attempt_defects([], 2)}]
    step = summarize(rows)["by_step"]["2"]
    assert step["attempts_repeating_previous"] == {"n": 2, "of": 6, "rate": 0.333}
    assert step["sent"] == {"n": 1, "of": 2, "rate": 0.5}
    assert step["rejection_classes"][REPEATS] == 2
    assert "| 2 | 2 | 6 |" in markdown(summarize(rows))
