"""A prompt longer than the context (counted in tokens by the real model's tokenizer) is the
request's own fault: an outcome with the reason, no generation, no ModelError crash loop."""

from __future__ import annotations

from generation.generate import draft_for_request
from tests.support.worker_helpers import make_request, sample_campaign, sample_leads, untuned_base
from outreach.settings import load_settings


def test_prompt_over_the_token_budget_is_refused_before_generating(generator, model_info):
    base = untuned_base(load_settings())
    # 200 characters of emoji in a capped field are ~200+ tokens: the caps count characters.
    lead = dict(sample_leads()[0], notes="🦄🧪" * 100, pain_point="漢字テスト" * 40)
    small = base.model_copy(update={"model": base.model.model_copy(update={"n_ctx": 320})})
    outcome = draft_for_request(make_request(lead), generator, model_info, small,
                                sample_campaign())
    assert not outcome.ok and outcome.completions == []
    assert outcome.reasons and outcome.reasons[0].startswith("prompt too long: ")
