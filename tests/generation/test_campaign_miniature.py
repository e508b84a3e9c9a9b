"""The served miniature (outreach.yaml) writes for a campaign it never saw, greeting leads in
any script exactly as written and using that campaign's own facts.

Slow (the real model, a few emails): ``pytest -m slow tests/generation/test_campaign_miniature.py``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from outreach.settings import load_settings
from schemas.campaign import load_campaign
from tests.support.worker_helpers import TEST_THREADS, make_request
from workers.reload import open_generator
from generation.generate import draft_for_request
from generation.model import resolve_model

pytestmark = pytest.mark.slow

EXAMPLE = Path(__file__).parents[2] / "campaigns" / "examples" / "shiftwise-scheduling.yaml"
LEADS = [("Анна", "ООО «Северный Ветер»", "Head of Operations", "logistics"),
         ("美咲", "株式会社さくら商事", "人事部長", "retail"),
         ("서연", "한빛병원", "Nursing Director", "healthcare"),
         ("Stanisław", "Łódź Metal sp. z o.o.", "Plant Manager", "manufacturing")]


def test_unseen_campaign_drafts_greet_names_exactly_and_use_its_facts():
    settings = load_settings()
    if settings.model.prompt_style != "trained" or not settings.model.lora_path:
        pytest.skip("outreach.yaml serves no trained miniature")
    settings.model.n_threads = TEST_THREADS
    campaign = load_campaign(EXAMPLE)
    model = resolve_model(settings)
    markers = {fact.id: fact_markers(fact) for fact in campaign.facts}
    passed, quoting = [], []
    with open_generator(model, settings, 1) as generator:  # a head cut: the batched engine
        for index, (first, company, role, industry) in enumerate(LEADS):
            lead = {"lead_id": f"nl-{index}", "campaign": campaign.campaign_id,
                    "email": f"lead{index}@example.com", "first_name": first, "last_name": None,
                    "company": company, "role": role, "industry": industry,
                    "company_size": 300, "pain_point": "open shifts are filled by phone",
                    "notes": None, "lead_score": 50, "deal_size": 0.0, "segment": "smb",
                    "priority": "normal", "source": "test", "created_at": 1_760_000_000_000}
            outcome = draft_for_request(make_request(lead), generator, model, settings,
                                        campaign)
            if not outcome.ok:
                continue
            passed.append(first)
            body = outcome.draft["body"]
            assert body.startswith(f"Hi {first},\n\n"), body
            assert body.endswith("\n" + campaign.sender.name)
            assert set(outcome.evidence_ids) <= {f.id for f in campaign.facts}
            # A fact of the campaign is quoted: its figure or its customer, not the product name.
            if any(marker in body for fact_id in markers for marker in markers[fact_id]):
                quoting.append(first)
    # A majority of the four leads, not one: the pass rate itself is `outreach eval`'s.
    assert len(passed) >= 3, f"only {passed} of {[lead[0] for lead in LEADS]} passed the checks"
    assert len(quoting) >= 3, f"only {quoting} quote a proof point or case study of the campaign"


def fact_markers(fact) -> list[str]:
    """What shows a fact was used: its figures ("38 minutes", "23%", "1,400") and its customer's
    name; a fact with neither only by its whole text."""
    figures = re.findall(r"\d[\d,.]*\d%?|\d%?", fact.text)
    markers = [f.rstrip(".,") for f in figures] + ([fact.customer] if fact.customer else [])
    return markers or [fact.text]
