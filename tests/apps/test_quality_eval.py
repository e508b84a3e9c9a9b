"""`outreach quality`: the served miniature judged the worker's way on held-out campaigns.

The run test uses the untuned base (few-shot) on 2 of the 12 held-out campaigns, 1 lead each:
enough to check that every lead is accounted for exactly once and that the report is computed
from the emails file, not asserted. The figures themselves are evaluation results
(docs/results), never test thresholds.
"""

from __future__ import annotations

import json

from apps import quality_eval


def _row(seed, outcome, script="latin", first_try=False, reasons=(), pain_misused=False):
    return {"seed": seed, "campaign": "c", "lead_id": f"l{seed}{outcome}{script}",
            "script": script, "pain": None, "pain_on_target": False, "outcome": outcome,
            "first_try": first_try, "reasons": list(reasons), "subject": "S", "body": "B",
            "pain_misused": pain_misused}


def test_rejections_map_to_the_class_a_reader_names():
    assert quality_eval.defect_class(
        "attempt 2: claims earlier contact the CRM does not record: 'Thanks for visiting'") \
        == "false claim of earlier contact"
    assert quality_eval.defect_class("attempt 1: article slip: 'an thought' (should be 'a')") \
        == "article slip"
    assert quality_eval.defect_class("attempt 1: greeting glued to the name: 'Hi翼,'") \
        == "greeting glued to the name"
    assert quality_eval.defect_class("attempt 1: something new") == "other"


def test_summary_counts_slices_and_seeds_from_the_rows():
    rows = [_row(0, "sent", first_try=True), _row(0, "held", "non_latin",
                                                  reasons=["attempt 1: article slip: x"]),
            _row(1, "sent", "non_latin", pain_misused=True), _row(1, "dead-lettered")]
    report = quality_eval.summarize(rows)
    assert report["all"]["leads"] == 4 and report["all"]["drafted"] == 3
    assert report["all"]["sent_without_a_person"] == round(2 / 3, 4)
    assert report["all"]["first_try_pass"] == round(1 / 3, 4)
    assert report["non_latin"]["held"] == 1 and report["latin"]["held"] == 0
    assert report["all"]["pain_misused_in_sent"] == 1
    assert report["all"]["rejections_by_class"] == {"article slip": 1}
    assert report["seed_spread"]["sent_without_a_person"] == {"mean": 0.75, "min": 0.5,
                                                              "max": 1.0}


def test_a_run_accounts_for_every_lead_once(offline_settings, tmp_path):
    report = quality_eval.run(offline_settings, tmp_path, leads_per_campaign=1, seeds=1,
                              world_seed=11, campaign_limit=2)
    rows = [json.loads(line) for line in (tmp_path / "emails.jsonl").read_text().splitlines()]
    assert len(rows) == report["all"]["leads"] == 2
    assert len({row["lead_id"] for row in rows}) == 2 and report["campaigns"] == 2
    sent = [row for row in rows if row["outcome"] == "sent"]
    assert report["all"]["held"] + len(sent) + report["all"]["dead_lettered"] == 2
    for row in sent:  # a sent email is framed by code: the campaign sender signs it
        assert row["body"].rstrip().splitlines()[-2] == "Best,"
    for row in rows:
        if row["outcome"] == "held":
            assert row["reasons"], row  # a held draft always says why
    blind = (tmp_path / "blind-read.md").read_text()
    assert all(row["subject"] in blind for row in sent)
    assert "seed" not in blind.split("\n", 2)[-1]  # blind: no slice or seed shown (after the title)
    assert (tmp_path / "report.md").read_text().startswith("# Quality report")
