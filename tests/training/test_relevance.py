"""The relevance rule (generation.relevance) decides whether a campaign addresses a lead's pain
point, from the text the miniature sees. Measured on labelled (campaign, pain) pairs
(training.pain_pools): every synthetic category's pains against 16 synthetic campaigns, the
demo pains against the example campaigns and the default brief, and the held-out campaigns
against their own test pool plus every training pain. Measured 2026-12-07:

    synthetic 1,088 pairs: precision 1.00, recall 0.50 (34 of 68)
    examples    272 pairs: precision 1.00, recall 0.92 (11 of 12)
    held-out  1,248 pairs: precision 0.97, recall 0.78 (28 of 36; 1 false positive)

The held-out false positive is the limit of a bag of words: a survey tool that "asks one
question ... reads the free-text answers" against "agents answer the same questions all day".
Precision first (a pain glued to an unrelated product is a defect a reader sees; a fitting pain
left unused only costs personalization), so the floors below hold precision at the measured
level and recall a little under it."""

from __future__ import annotations

from pathlib import Path

import pytest

from generation.retrieval import evidence_for
from schemas.campaign import load_campaign
from training import campaign_synth, heldout, pain_pools, relevance
from training.brief import load_brief

ROOT = Path(__file__).parents[2]


def _examples():
    return ([load_campaign(p) for p in sorted((ROOT / "campaigns").glob("**/*.yaml"))]
            + [load_brief(ROOT / "training" / "briefs" / "default.yaml")])


@pytest.fixture(scope="module")
def slices():
    training = pain_pools.training_pains()
    return {
        "synthetic": list(pain_pools.labelled_pairs(campaign_synth.generate(16, seed=0),
                                                    training)),
        "examples": list(pain_pools.labelled_pairs(_examples(), training)),
        "heldout": list(pain_pools.labelled_pairs(heldout.campaigns(),
                                                  heldout.test_pains() | training)),
    }


@pytest.mark.parametrize(("name", "min_pairs", "min_precision", "min_recall"), [
    ("synthetic", 1000, 0.98, 0.45), ("examples", 250, 0.98, 0.80),
    ("heldout", 400, 0.96, 0.70)])
def test_precision_first_with_a_recall_floor(slices, name, min_pairs, min_precision,
                                             min_recall):
    pairs = slices[name]
    assert len(pairs) >= min_pairs and sum(label for _, _, label in pairs) >= 12
    found = relevance.measure(pairs)
    assert found["precision"] >= min_precision, found["false_positives"]
    assert found["recall"] >= min_recall, found


def test_the_threshold_matters(slices):
    """The measurement can fail: with no threshold every pain that shares one word counts,
    and unrelated pains are glued to products again."""
    pairs = [p for pairs in slices.values() for p in pairs]
    loose = relevance.measure(pairs, threshold=0.0, min_shared=1)
    assert loose["fp"] > 20 and loose["precision"] < 0.7


def test_examples_a_reader_would_judge_the_same_way():
    ledgerline, patchwell, shiftwise = (load_campaign(ROOT / "campaigns" / "examples" / name)
                                        for name in ("ledgerline-ap.yaml",
                                                     "patchwell-security.yaml",
                                                     "shiftwise-scheduling.yaml"))
    def addresses(campaign, pain):  # with the evidence the worker's retrieval picks
        return relevance.addresses(campaign, pain, evidence_for(campaign, {"pain_point": pain}))

    assert addresses(ledgerline, "invoices pile up waiting for approval")
    assert addresses(patchwell, "critical vulnerabilities stay open for weeks")
    # The examples: a product offered as the answer to a problem it does not solve.
    assert not addresses(ledgerline, "hiring engineers takes months")
    assert not addresses(shiftwise, "auditors keep asking for patch reports")
    assert not addresses(patchwell, "overtime keeps going over budget")
    assert not relevance.addresses(patchwell, "") and not relevance.addresses(patchwell, None)


def test_stems_join_word_forms():
    assert relevance.stem("invoices") == relevance.stem("invoice")
    assert relevance.stem("patching") == relevance.stem("patch")
    assert "team" not in relevance.stems("the team keeps missing invoices")


def test_the_served_idf_table_matches_the_market_categories():
    """generation/data/market_idf.json is what serving reads; rebuilt from the categories it
    must be identical, or the worker and the teacher disagree about which pains fit."""
    import json

    from generation.relevance import IDF_PATH

    committed = json.loads(IDF_PATH.read_text(encoding="utf-8"))
    rebuilt = relevance.market_idf()
    assert committed["documents"] == rebuilt["documents"] == 16
    assert committed["idf"].keys() == rebuilt["idf"].keys()
    assert all(abs(committed["idf"][k] - v) < 1e-12 for k, v in rebuilt["idf"].items())
