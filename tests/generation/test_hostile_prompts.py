"""The hostile-text set through intake's screening and the real prompt builder (both styles):
no prompt carries the injected text, so the model cannot quote it."""

from __future__ import annotations

import json

import pytest

from apps.hostile import hostile_leads
from outreach.settings import load_settings
from outreach.untrusted_text import normalize
from streams.screening import apply, screen_lead
from generation.prompt import build_prompt, lead_data
from tests.support.worker_helpers import sample_campaign


@pytest.mark.parametrize("style", ["few_shot", "trained"])
def test_no_prompt_contains_injected_text(style):
    base = load_settings(config_file=None)
    settings = base.model_copy(update={"model": base.model.model_copy(
        update={"prompt_style": style})})
    campaign = sample_campaign()
    cases = hostile_leads(campaign.campaign_id)
    leaked = []
    for lead, field, marker in cases:
        shown = apply(lead, screen_lead(lead))
        text = normalize(build_prompt(shown, campaign, None, settings).text).lower()
        if marker in text:
            leaked.append((field, marker))
        # Control: unscreened, the same lead's data does carry it (the test would notice). The
        # lead line as quoted before the relevance rule: a hostile pain the campaign does not
        # address is also left out of the prompt (generation.relevance), a second defence.
        unscreened = build_prompt(lead, campaign, None, settings).text + json.dumps(
            lead_data(lead, settings.checks.field_max_chars), ensure_ascii=False)
        assert marker in normalize(unscreened).lower(), (field, marker)
    assert len(cases) == 64 and leaked == []
