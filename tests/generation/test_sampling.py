"""generation/sampling.py: the candidate window, then real rows of the served miniature."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from outreach.settings import load_settings
from generation.sampling import top_k_ids, top_k_rows

ADAPTER = Path(__file__).parents[2] / "models/gemma3-270m-outreach-lora/adapter.gguf"


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


def test_windowed_draws_equal_full_vocabulary_draws_on_the_served_miniature():
    """On real logits of the default model + committed adapter (peaked: often fewer than 40
    tokens within the window), sampling from the window picks exactly what the same seeded
    chain picks from all 262k tokens, token after token."""
    pytest.importorskip("llama_cpp")
    from generation.batch_context import LlamaContext
    from generation.model import default_model_path
    from generation.sampling import SamplingParams, SequenceSampler, logits_row

    settings = load_settings(config_file=None)
    llm = LlamaContext(default_model_path(), settings.model, n_seq=1, ctx_per_seq=256,
                       n_batch=128, lora_path=ADAPTER if ADAPTER.is_file() else None,
                       n_threads=2)
    prompt = llm.text.tokenize('Lead: {"first_name": "Ana", "company": "Tidewater Insurance", '
                               '"role": "Head of Sales", "industry": "insurance"}\nEmail:\n')
    peaked = 0
    try:
        for seed in range(3):
            params = SamplingParams(temperature=0.7, top_p=0.95, repeat_penalty=1.1, seed=seed)
            windowed = SequenceSampler(llm.model, params)
            full = SequenceSampler(llm.model, SamplingParams(**{**params.__dict__,
                                                                "top_k": llm.n_vocab}))
            llm.clear(0)
            tokens, index = list(prompt), len(prompt) - 1
            for j, token in enumerate(prompt):
                llm.put(j, token, j, 0, j == index)
            for step in range(24):
                llm.batch.n_tokens = len(prompt) if step == 0 else 1
                assert llm.decode()[0] == 0
                row = logits_row(llm.ctx, index if step == 0 else 0, llm.n_vocab)
                peaked += len(top_k_ids(row, 40, 1.1)) < 40
                token = windowed.sample_row(row)
                assert full.sample_row(row) == token, (seed, step)
                if llm.text.is_end(token):
                    break
                llm.put(0, token, len(tokens), 0, True)
                tokens.append(token)
            windowed.close()
            full.close()
    finally:
        llm.close()
    assert peaked > 0  # the case the window exists for did occur
