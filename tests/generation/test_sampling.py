"""generation/sampling.py: the candidate window, then real rows of the served miniature."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from outreach.settings import load_settings
from generation.sampling import top_k_ids, top_k_rows

REPO = Path(__file__).resolve().parents[2]


def test_a_peaked_row_gives_only_the_tokens_near_its_maximum():
    row = np.full(262_144, -30.0, dtype=np.float32)
    row[[7, 1000, 200_000]] = [25.0, 20.0, 13.5]  # 0, 5 and 11.5 below the maximum
    row[5] = 12.9  # 12.1 below: outside the window
    assert sorted(top_k_ids(row, 40).tolist()) == [7, 1000, 200_000]


def test_a_flat_row_gives_exactly_the_top_k():
    row = np.random.default_rng(3).normal(size=262_144).astype(np.float32)
    expected = set(np.argpartition(row, -40)[-40:].tolist())
    assert set(top_k_ids(row, 40).tolist()) == expected


def test_a_repeat_penalty_widens_the_window_by_what_it_can_take_off_the_maximum():
    row = np.full(1000, -50.0, dtype=np.float32)
    row[[1, 2]] = [100.0, 85.0]  # 15 below: outside 12, inside 12 + 100 * (1 - 1/1.1) = 21.1
    assert sorted(top_k_ids(row, 40).tolist()) == [1]
    assert sorted(top_k_ids(row, 40, repeat_penalty=1.1).tolist()) == [1, 2]


def test_all_rows_at_once_pick_the_same_candidates_in_the_same_order_as_row_by_row():
    rng = np.random.default_rng(5)
    rows = np.full((5, 50_000), -30.0, dtype=np.float32)
    rows[0] = rng.normal(size=50_000)  # flat: exactly the top k
    rows[1, [3, 900, 49_999]] = [20.0, 12.0, 8.0]  # peaked: fewer than k
    rows[2, 10:20] = 5.0  # ties at the maximum
    rows[3] = rng.normal(scale=4.0, size=50_000)  # penalty below 1: plain top-k
    rows[4, [1, 2]] = [100.0, 85.0]  # inside the window only with the penalty
    ks, penalties = [40, 40, 4, 40, 40], [1.1, 1.0, 1.1, 0.9, 1.1]
    together = top_k_rows(rows, ks, penalties)
    for row, k, penalty, got in zip(rows, ks, penalties, together):
        assert got.tolist() == top_k_ids(row, k, penalty).tolist()
    assert sorted(together[4].tolist()) == [1, 2]


def test_windowed_draws_equal_full_row_draws_on_the_served_miniature(monkeypatch):
    """On real scores of the served miniature (outreach.yaml: the default model, the campaign
    adapter and the head cut of the vocabulary trim; peaked: often fewer than 40 tokens within
    the window), sampling from the window picks exactly what the same seeded chain picks from
    every column of the row, token after token. A missing adapter or trim fails the test: it
    is the served configuration or nothing (./setup.sh builds the trim)."""
    pytest.importorskip("llama_cpp")
    from generation.batch_context import LlamaContext, decode_tokens
    from generation.model import resolve_model
    from generation.prompt import build_prompt
    from generation.sampling import SamplingParams, SequenceSampler
    from schemas.campaign import load_campaign
    from training.leads import generated

    monkeypatch.chdir(REPO)  # outreach.yaml's paths are relative to the repository root
    settings = load_settings(REPO / "outreach.yaml")
    assert settings.model.lora_path and settings.model.trimmed_path, \
        "outreach.yaml no longer serves an adapter with a head cut: update this test"
    model = resolve_model(settings)  # ModelError (a failure) when a served file is missing
    llm = LlamaContext(model.path, settings.model, n_seq=1, ctx_per_seq=1024, n_batch=512,
                       lora_path=model.lora_path, trimmed_path=model.trimmed_path, n_threads=2)
    campaign = load_campaign(REPO / "campaigns/examples/shiftwise-scheduling.yaml")
    lead = generated(1, 5, campaign.campaign_id)[0]
    text = build_prompt(lead, campaign, None, settings).text
    prompt = llm.text.tokenize(text)
    extras = llm.extras(prompt, text)
    to_ids = llm.to_ids(extras)
    assert llm.head is not None and to_ids is not None  # really the head cut
    peaked = steps = 0
    try:
        for seed in range(3):
            params = SamplingParams(temperature=0.7, top_p=0.95, repeat_penalty=1.1, seed=seed)
            windowed = SequenceSampler(llm.text_model, params)
            full = SequenceSampler(llm.text_model, SamplingParams(**{**params.__dict__,
                                                                     "top_k": llm.n_vocab}))
            llm.clear(0)
            decode_tokens(llm, prompt[:-1], 0, 0, want_last=False)
            token, pos = prompt[-1], len(prompt) - 1
            for step in range(24):
                llm.put(0, token, pos, 0, True)
                llm.batch.n_tokens = 1
                assert llm.decode()[0] == 0
                row = np.array(llm.output_rows(1, [extras])[0])
                peaked += len(top_k_ids(row, 40, 1.1)) < 40
                token = windowed.sample_row(row, None, to_ids)
                assert full.sample_row(row, None, to_ids) == token, (seed, step)
                steps += 1
                if llm.text.is_end(token):
                    break
                pos += 1
            windowed.close()
            full.close()
    finally:
        llm.close()
    assert steps >= 3 * 8  # the seeds wrote more than a few tokens each on average
    assert peaked > 0  # the case the window exists for did occur
