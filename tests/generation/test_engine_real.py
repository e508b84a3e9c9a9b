"""The real Gemma 3 270M model through Generator and draft_for_request.

These assert structure (token counts, determinism, records that match their schema), not that
an untuned 270M base model writes a perfect email: tests/generation/test_prompt_quality.py
measures that.
"""

from __future__ import annotations

import pytest

from outreach.errors import DraftRejected
from outreach.ids import draft_id
from outreach.settings import load_settings
from schemas.codec import AvroCodec
from tests.support.worker_helpers import TEST_THREADS, make_request, sample_campaign, sample_leads
from generation.checks import parse_and_check
from generation.generate import draft_for_request
from workers.reload import open_generator
from generation.model import resolve_model
from generation.prompt import STOP_SEQUENCES, build_prompt


@pytest.mark.slow  # ~30 s of drafting; test_draft_for_request_yields_... covers the same path
def test_generates_a_completion_that_parses_or_carries_reasons(generator, offline_settings):
    lead = sample_leads()[0]
    prompt = build_prompt(lead, sample_campaign(), None, offline_settings)
    completion = generator.generate(prompt.text, offline_settings.model.max_tokens, seed=7,
                                    stop=STOP_SEQUENCES)
    assert completion.prompt_tokens > 300  # static prefix + lead tail
    assert 0 < completion.completion_tokens <= offline_settings.model.max_tokens
    assert completion.seconds > 0 and completion.cpu_seconds > 0
    assert completion.finish_reason in ("stop", "length")
    try:
        draft = parse_and_check(prompt.prefill, completion.text, lead, offline_settings.checks,
                                sample_campaign())
    except DraftRejected as exc:
        assert exc.reasons and all(isinstance(r, str) and r for r in exc.reasons)
    else:
        assert draft.subject and "Ann" in draft.body


def test_same_seed_same_text_even_after_other_prompts(generator, offline_settings):
    """A redelivered request must regenerate the same text (at-least-once + stable draft_id)."""
    first, other = (build_prompt(lead, sample_campaign(), None, offline_settings) for lead in sample_leads()[:2])
    run = lambda p, seed: generator.generate(p.text, 48, seed=seed, stop=STOP_SEQUENCES).text
    text = run(first, 11)
    run(other, 12)  # moves llama.cpp's prefix cache to another prompt
    assert run(first, 11) == text


@pytest.mark.parametrize("style", [pytest.param("few_shot", marks=pytest.mark.slow), "trained"])
def test_retry_grammar_constrains_the_text(generator, offline_settings, style):
    offline_settings.model.prompt_style = style
    prompt = build_prompt(sample_leads()[3], sample_campaign(), None, offline_settings)
    completion = generator.generate(prompt.text, 24, seed=5, grammar=prompt.retry_grammar)
    assert completion.completion_tokens > 0
    assert not set(completion.text) & set("[]{}<>#@/\\")
    assert "\n\n\n" not in completion.text
    if style == "trained":  # no prefill: the grammar writes the subject line itself
        assert completion.text.startswith("Subject: ")


def test_the_served_configuration_writes_a_draft_or_reasons():
    """Whatever outreach.yaml serves (a LoRA miniature and its prompt style, or the base)."""
    settings = load_settings().model_copy(deep=True)
    settings.model.n_threads = TEST_THREADS
    settings.worker.max_attempts = 1  # the retry path is covered above, with the base model
    model = resolve_model(settings)
    lead = sample_leads()[6]
    with open_generator(model, settings, 1) as served:  # as the worker would
        outcome = draft_for_request(make_request(lead), served, model, settings, sample_campaign())
    assert outcome.completions[0].completion_tokens > 0
    if outcome.ok:
        AvroCodec().validate("EmailDraft", outcome.draft)
        assert outcome.draft["model_id"] == model.model_id
        # The configured version with the adapter's content hash (two adapters never share one).
        assert outcome.draft["model_version"] == model.version
        assert model.version.startswith(settings.model.model_version)
    else:
        assert outcome.reasons


@pytest.fixture(scope="module")
def served():
    """The served miniature (outreach.yaml's adapter, trained prompt) on llama-cpp-python, no
    head cut: the untuned base no longer drafts here, since a draft must ask the campaign's
    question (generation.style_checks.missing_call_to_action) and the base never does."""
    from generation.engine import Generator

    settings = load_settings().model_copy(deep=True)
    settings.model.trimmed_path = None
    settings.model.n_threads = TEST_THREADS
    info = resolve_model(settings)
    with Generator(info, settings) as loaded:
        yield settings, info, loaded


def test_draft_for_request_yields_a_schema_valid_draft_or_reasons(served):
    settings, model_info, generator = served
    # The test fails, rather than skips, if none of three leads yields a draft.
    failed = []
    for lead in (sample_leads()[i] for i in (2, 0, 1)):
        request = make_request(lead)
        outcome = draft_for_request(request, generator, model_info, settings,
                                    sample_campaign())
        assert outcome.request_id == request["request_id"]
        assert outcome.lead_id == lead["lead_id"]
        assert 1 <= outcome.attempts <= settings.worker.max_attempts
        assert all(c.completion_tokens > 0 for c in outcome.completions)
        if outcome.ok:
            break
        assert outcome.reasons and outcome.reasons[0].startswith("attempt 1: ")
        failed.append(outcome.reasons)
    else:
        pytest.fail(f"the served model drafted none of 3 leads: {failed}")
    draft = outcome.draft
    AvroCodec().validate("EmailDraft", draft)
    assert draft["draft_id"] == draft_id(request["request_id"], model_info.model_id,
                                         model_info.identity)
    assert draft["attempts"] == outcome.attempts
    assert draft["completion_tokens"] == sum(c.completion_tokens for c in outcome.completions)
    assert draft["lead_to_draft_ms"] >= draft["latency_ms"] > 0
    assert draft["estimated_cost_usd"] > 0
    assert (draft["to_email"], draft["company"]) == (lead["email"], lead["company"])
    # A redelivery regenerates the same email under the same draft_id.
    again = draft_for_request(request, generator, model_info, settings,
                                sample_campaign()).draft
    assert (again["draft_id"], again["subject"], again["body"]) == (
        draft["draft_id"], draft["subject"], draft["body"])
