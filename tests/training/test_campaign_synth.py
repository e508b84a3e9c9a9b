"""Synthetic campaigns: dozens of distinct, valid products composed from parts, reproducibly."""

from __future__ import annotations

from schemas.campaign import Campaign
from training import campaign_synth


def test_dozens_of_distinct_valid_campaigns():
    campaigns = campaign_synth.generate(56, seed=0)
    assert len(campaigns) == 56 and all(isinstance(c, Campaign) for c in campaigns)
    assert len({c.product for c in campaigns}) == 56
    assert len({c.campaign_id for c in campaigns}) == 56
    assert len({campaign_synth.category_of(c).key for c in campaigns}) == \
        len(campaign_synth.CATEGORIES) >= 12
    assert not {c.product for c in campaigns} & campaign_synth.RESERVED_PRODUCTS
    # Composed, not one template: senders, tones, CTAs and value propositions vary.
    assert len({c.sender.name for c in campaigns}) >= 50
    assert len({c.value_proposition.split(" ", 1)[1] for c in campaigns}) >= 30
    assert len({cta for c in campaigns for cta in c.calls_to_action}) >= 40
    assert len({c.tone for c in campaigns}) >= 5
    for campaign in campaigns:
        assert len(campaign.facts) >= 6 and campaign.case_studies
        assert all(f.customer and f.customer in f.text for f in campaign.case_studies)
        assert all(f.industries for f in campaign.case_studies)
        assert campaign.product in campaign.value_proposition


def test_reproducible_under_a_seed():
    first = [c.to_record() for c in campaign_synth.generate(5, seed=3)]
    assert first == [c.to_record() for c in campaign_synth.generate(5, seed=3)]
    assert first != [c.to_record() for c in campaign_synth.generate(5, seed=4)]
