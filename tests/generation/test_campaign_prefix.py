"""The batched engine evaluates a campaign's prompt prefix once for all of its requests (real
Gemma 3 270M): prefills are counted by the engine, not timed."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.campaigns import PATCHWELL, example_campaign
from tests.support.worker_helpers import make_request, sample_leads, untuned_base
from generation.generate import draft_for_request

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def batched(model_info):
    pytest.importorskip("llama_cpp")
    from outreach.settings import load_settings
    from generation.batched_generator import BatchedGenerator

    settings = untuned_base(load_settings())
    settings.model.batch_slots, settings.model.prefix_slots = 4, 2
    # Campaign prefixes alone: evidence prefixes (shared_prefix_slots) would take the evidence
    # lines of these 8 leads out of the count (tests/generation/test_batch_shared.py).
    settings.model.shared_prefix_slots = 0
    settings.model.max_tokens = 8  # prefills are what is counted; 8 tokens keep it quick
    settings.worker.max_attempts = 1
    with BatchedGenerator(model_info, settings) as generator:
        yield generator, settings


def _draft_all(generator, settings, campaign, leads):
    with ThreadPoolExecutor(len(leads)) as pool:  # concurrent, like the worker's slots
        return list(pool.map(lambda lead: draft_for_request(
            make_request(dict(lead, campaign=campaign.campaign_id)), generator,
            generator.model, settings, campaign), leads))


def test_one_campaign_prefix_is_decoded_once_for_many_sequences(batched):
    generator, settings = batched
    first = example_campaign("prefix-a")
    before = generator.stats()
    leads = sample_leads()[:8]
    outcomes = _draft_all(generator, settings, first, leads)
    after = generator.stats()
    prefix_tokens = after.prefix_tokens - before.prefix_tokens
    assert after.prefix_decodes - before.prefix_decodes == 1
    assert prefix_tokens > 300  # campaign block + instructions + two worked examples
    # Every request prefilled only its own tail: prompt tokens minus the shared prefix, less
    # its last token, which is decoded in the next step with the sampled ones.
    prompt_tokens = sum(o.completions[0].prompt_tokens for o in outcomes)
    prefilled = after.prefill_tokens - before.prefill_tokens
    assert prefilled == prompt_tokens - len(leads) * (prefix_tokens + 1)
    assert all(o.campaign_version == first.version and o.evidence_ids for o in outcomes)

    # A second campaign is one more prefix; the first is still held (prefix_slots=2), so a
    # return to it decodes nothing, and a new version of it is a new prefix.
    second = example_campaign("prefix-b", brief=PATCHWELL)
    _draft_all(generator, settings, second, leads[:3])
    _draft_all(generator, settings, first, leads[:3])
    assert generator.stats().prefix_decodes - before.prefix_decodes == 2
    updated = first.model_copy(update={"version": first.version + 1, "tone": "warm, brief"})
    _draft_all(generator, settings, updated, leads[:2])
    assert generator.stats().prefix_decodes - before.prefix_decodes == 3
