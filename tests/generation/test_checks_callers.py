"""Every caller runs the one checks entry point: a draft the worker rejects fails the release
gate, the evaluation, the training-data filter and the review re-score alike.

The planted defects are ones only the newer checks see: a bare disallowed domain (the
untrusted-link check, which the gate, evaluation, filter and review used to skip) and a claim
of earlier contact written in words no old phrase list had.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.support.worker_helpers import sample_campaign, sample_leads
from outreach.errors import DraftRejected
from outreach.settings import Settings
from generation.draft import Draft
from generation.generate import checked_draft

CAMPAIGN = sample_campaign()
LEAD = sample_leads()[0]  # Ann at Northwind Traders
GOOD = ("Hi Ann,\n\nAt Northwind Traders, reps spend hours writing follow-up emails. Relaywise "
        "drafts a personal follow-up for every inquiry in seconds, and teams answer inquiries 3x "
        "faster in the first month. Would you be open to a 15-minute call next week?\n\n"
        "Best,\nNoor Haddad")
SUBJECT = "An idea for Northwind Traders"
BAD = {"link": GOOD.replace("Relaywise drafts", "See evil.com: Relaywise drafts"),
       "claim": GOOD.replace("At Northwind", "Since we last spoke, at Northwind")}
EXPECTED = {"link": "not allowed", "claim": "earlier contact"}


def _failed(reasons: list[str], kind: str) -> bool:
    return any(EXPECTED[kind] in r for r in reasons)


@pytest.mark.parametrize("kind", sorted(BAD))
def test_the_worker_rejects_it(kind):
    request = {"lead": LEAD, "withheld": {}}
    assert checked_draft("", f"Subject: {SUBJECT}\n\n{GOOD}", request, Settings(), CAMPAIGN)
    with pytest.raises(DraftRejected) as info:
        checked_draft("", f"Subject: {SUBJECT}\n\n{BAD[kind]}", request, Settings(), CAMPAIGN)
    assert _failed(info.value.reasons, kind)


@pytest.fixture
def flat_embeddings(monkeypatch):
    # The rubric's similarity needs the embedding model; it is not what is tested here.
    from training import evaluate

    monkeypatch.setattr(evaluate.embed, "similarities", lambda a, b: [1.0] * len(a))


def _rows(n: int = 2) -> list[dict]:
    return [{"lead_id": f"l{i}", "lead": LEAD, "campaign": CAMPAIGN.to_record(),
             "completion": f"Subject: {SUBJECT}\n\n{GOOD}"} for i in range(n)]


def _writer(body: str):
    from training.evaluate import Output

    return lambda row, seed: Output(SUBJECT, body, 0.1, 0.1, 100)


@pytest.mark.parametrize("kind", sorted(BAD))
def test_the_evaluation_fails_it(kind, flat_embeddings):
    from training.evaluate import run_system

    good = run_system("lora", _writer(GOOD), _rows(), CAMPAIGN, 0.04)
    assert all(e["passes_checks"] for e in good["examples"])
    bad = run_system("lora", _writer(BAD[kind]), _rows(), CAMPAIGN, 0.04)
    assert not any(e["passes_checks"] for e in bad["examples"])
    assert _failed(bad["examples"][0]["check_failures"], kind)


@pytest.mark.parametrize("kind", sorted(BAD))
def test_the_release_gate_fails_it(kind, flat_embeddings, monkeypatch):
    from releases import gate
    from training import evaluate

    monkeypatch.setattr(evaluate, "gguf_writer", lambda *a, **k: _writer(BAD[kind]))
    metrics = gate.evaluate_candidate(Path("candidate.gguf"), _rows(), Settings(), None,
                                      brief=CAMPAIGN, lora=Path("adapter.gguf"),
                                      measured_perplexity={"perplexity": 1.0,
                                                           "f16_perplexity": 1.0, "tokens": 1})
    assert metrics["pass_rate"] == 0.0
    assert _failed(metrics["examples"][0]["check_failures"], kind)


@pytest.mark.parametrize("kind", sorted(BAD))
def test_the_training_data_filter_drops_it(kind, monkeypatch):
    from training import campaign_data, teacher_offline

    def teach(leads, campaign, seed=0):
        return [SimpleNamespace(example_id=f"x{i}", lead_id=lead["lead_id"], lead=lead,
                                subject=SUBJECT, body=body, evidence_ids=[], teacher="t")
                for i, (lead, body) in enumerate(zip(leads, (GOOD, BAD[kind])))]

    monkeypatch.setattr(teacher_offline, "teach", teach)
    counts: dict[str, int] = {}
    rows = campaign_data.rows_for(CAMPAIGN, [LEAD, LEAD], "train", 0, counts)
    assert [row["example_id"] for row in rows] == ["x0"]
    assert sum(counts.values()) == 1


@pytest.mark.parametrize("kind", sorted(BAD))
def test_the_review_re_score_fails_it(kind, monkeypatch):
    from apps import review_server

    monkeypatch.setattr(review_server, "_campaign", lambda settings, draft: CAMPAIGN)
    score = review_server.edit_checks(Settings())
    draft = {"campaign": CAMPAIGN.campaign_id, "campaign_version": CAMPAIGN.version}
    assert score(LEAD, draft, SUBJECT, GOOD) == []
    assert _failed(score(LEAD, draft, SUBJECT, BAD[kind]), kind)


def test_a_bare_lead_and_a_request_are_checked_alike():
    from generation.checks import check_draft
    from outreach.settings import ChecksSettings

    draft = Draft(SUBJECT, BAD["link"])
    assert check_draft(draft, LEAD, ChecksSettings(), CAMPAIGN) == check_draft(
        draft, {"lead": LEAD, "withheld": {}}, ChecksSettings(), CAMPAIGN)
