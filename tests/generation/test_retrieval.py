"""Retrieval picks the campaign facts that fit a lead, deterministically, with a cached index."""

from __future__ import annotations

from tests.support.worker_helpers import sample_campaign, sample_campaign_doc
from generation.retrieval import Retriever, evidence_for, tokens


def _campaign_with_planted_fact():
    doc = sample_campaign_doc()
    filler = [{"id": f"pp-{i}", "text": f"Generic benefit number {i} for every team."}
              for i in range(30)]
    planted = {"id": "cs-cold-chain", "customer": "Frostline Freight",
               "text": "Frostline Freight cut spoiled cold-chain shipments by 18% in one quarter.",
               "industries": ["cold chain", "logistics"], "roles": ["operations"]}
    doc["proof_points"] = filler[:15] + [planted] + filler[15:]
    return sample_campaign(**{k: doc[k] for k in ("proof_points",)})


def test_retrieval_picks_the_planted_relevant_fact():
    campaign = _campaign_with_planted_fact()
    lead = {"first_name": "Ines", "company": "Polar Foods", "role": "Head of Operations",
            "industry": "Cold chain logistics", "pain_point": "spoiled shipments in summer"}
    facts = evidence_for(campaign, lead)
    assert facts[0].id == "cs-cold-chain"
    assert 1 <= len(facts) <= 2


def test_words_alone_find_a_fact_without_tags():
    campaign = _campaign_with_planted_fact()
    lead = {"first_name": "Ana", "company": "X", "pain_point": "spoiled cold-chain shipments"}
    assert evidence_for(campaign, lead)[0].id == "cs-cold-chain"


def test_tags_boost_industry_and_role():
    campaign = sample_campaign()
    hotel = {"first_name": "C", "company": "H", "industry": "Hospitality", "role": "CMO"}
    clinic = {"first_name": "A", "company": "S", "industry": "healthcare",
              "role": "Operations Director", "pain_point": "no-shows"}
    assert evidence_for(campaign, hotel)[0].id == "cs-hotel"
    assert evidence_for(campaign, clinic)[0].id == "cs-clinic"


def test_no_match_falls_back_to_the_first_fact_and_is_deterministic():
    campaign = sample_campaign()
    lead = {"first_name": "美咲", "company": "株式会社さくら", "role": "営業部長", "industry": "小売"}
    first = evidence_for(campaign, lead)
    assert [f.id for f in first] == ["pp-speed"]
    assert all(evidence_for(campaign, lead) == first for _ in range(3))


def test_index_is_cached_per_campaign_version():
    retriever = Retriever(cache_size=2)
    lead = {"first_name": "x", "company": "y", "industry": "hospitality"}
    v3 = sample_campaign()
    retriever.evidence(v3, lead)
    retriever.evidence(v3, lead)
    assert retriever.builds == 1
    retriever.evidence(sample_campaign(version=4), lead)
    assert retriever.builds == 2
    retriever.evidence(sample_campaign(campaign_id="other"), lead)
    retriever.evidence(v3, lead)  # evicted by the two newer entries (cache_size=2)
    assert retriever.builds == 4


def test_tokens_cover_any_script_and_drop_stopwords():
    assert tokens("The Head of IT at Łódź") == ["head", "it", "łódź"]
    assert tokens("Вице-президент по продажам") == ["вице", "президент", "по", "продажам"]
