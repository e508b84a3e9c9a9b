"""The default trained miniature writes passing drafts for a campaign it never saw (a product
added from a new YAML file), with that campaign's sender and facts. Runs once the default
adapter was trained on campaign data (teacher offline-templates-v2 in its manifest); the adapter
trained before campaigns were data is skipped, its prompt format is gone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from outreach.settings import load_settings
from schemas.campaign import load_campaign
from tests.workers.test_worker_campaigns import NEW_BRIEF
from tests.support.worker_helpers import TEST_THREADS, make_request, sample_leads
from generation.generate import draft_for_request
from generation.prompt import build_prompt

pytestmark = pytest.mark.integration
# The campaign teachers (the template one, then the typed one v3 and v4 were trained on).
CAMPAIGN_TEACHERS = frozenset({"offline-templates-v2", "offline-typed-v3"})


@pytest.fixture(scope="module")
def default_settings():
    settings = load_settings()  # outreach.yaml: the default model and prompt style
    adapter = settings.model.lora_path
    manifest = Path(adapter).parent / "manifest.json" if adapter else None
    teachers = {}
    if manifest is not None and manifest.is_file():
        teachers = json.loads(manifest.read_text()).get("dataset", {}).get("teachers", {})
    if not CAMPAIGN_TEACHERS & set(teachers):
        pytest.skip(f"the default adapter ({adapter}) was not trained on campaign data yet")
    settings = settings.model_copy(deep=True)  # the loaded settings stay as they were
    settings.model.n_threads = TEST_THREADS
    return settings


def test_default_miniature_writes_an_unseen_campaign_with_its_facts(default_settings, tmp_path):
    pytest.importorskip("llama_cpp")
    from workers.reload import open_generator
    from generation.model import resolve_model

    brief = tmp_path / "tidemark.yaml"
    brief.write_text(NEW_BRIEF.format(unique="default"))
    campaign = load_campaign(brief)
    model = resolve_model(default_settings)
    fact_texts = {fact.id: fact.text for fact in campaign.facts}
    with open_generator(model, default_settings, 1) as generator:
        leads = [dict(lead, campaign=campaign.campaign_id)
                 for lead in (sample_leads()[i] for i in (13, 18, 5, 4))]
        outcomes = [draft_for_request(make_request(lead), generator, model, default_settings,
                                      campaign) for lead in leads]
    # Two of these four are hard on purpose: lead 18 carries an injected note and lead 4 is "Zoë"
    # with a CRM note that tempts the model to claim earlier contact. The evaluation measures
    # 59-64% of unseen-campaign drafts passing every check at the first attempt (README). Which
    # of these four get through depends on the CPU's llama.cpp kernels, since seeded sampling
    # follows the logits' last bits: 2 of 4 on an AMD EPYC (2026-12-01: Jakob and Kenji; lead
    # 18 repeats a proof point, then invents "Thanks for reaching out"), 1 of 4 on an Intel
    # Xeon with AVX-512 (2026-12-02: Kenji). A lead that still fails says why for each attempt,
    # so the ladder above the miniature can take it.
    drafted = [(lead, outcome) for lead, outcome in zip(leads, outcomes) if outcome.ok]
    assert drafted, [outcome.reasons for outcome in outcomes]
    for outcome in outcomes:
        if not outcome.ok:
            assert outcome.draft is None
            assert [r for r in outcome.reasons if r.startswith("attempt 2: ")], outcome.reasons
    for lead, outcome in drafted:
        draft = outcome.draft
        assert draft["campaign_version"] == campaign.version
        assert draft["evidence_ids"] and set(draft["evidence_ids"]) <= set(fact_texts)
        assert draft["body"].rstrip().endswith("Ilse Vandermeer")
        prompt = build_prompt(lead, campaign, None, default_settings)
        assert draft["prompt_hash"] == prompt.prompt_hash
        assert "Tidemark" in draft["subject"] + draft["body"]
