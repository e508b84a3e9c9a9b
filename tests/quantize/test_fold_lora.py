"""Folding the committed campaign adapter into the real default base GGUF (Gemma 3 270M Q4_K_M).

The fold (~10 s on 2 cores) must keep what the adapter does: the folded model's next-token
picks along a held-out reference email follow the runtime adapter's far more often than the
bare base's do.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from outreach.errors import QuantizeError
from outreach.settings import load_settings

# The fold is not served (docs/serving-and-speed.md): its tests take ~90 s of the default run
# (fold the 247 MB base, two models' predictions), so they run with -m slow.
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
ADAPTER = REPO / "models/gemma3-270m-campaigns-lora/adapter.gguf"


@pytest.fixture(scope="module")
def folded(tmp_path_factory, gemma_gguf):
    from quantize.fold_lora import fold

    return fold(gemma_gguf, ADAPTER, tmp_path_factory.mktemp("fold") / "folded.gguf")


def test_folded_weights_are_base_plus_scaled_update(gemma_gguf, folded):
    import gguf

    from quantize.fold_lora import read_adapter

    pairs, alpha = read_adapter(ADAPTER)
    assert folded.folded == len(pairs) == 126 and alpha == 16
    base = {t.name: t for t in gguf.GGUFReader(gemma_gguf).tensors}
    out = {t.name: t for t in gguf.GGUFReader(folded.path).tensors}
    assert set(base) == set(out)
    for name in ("blk.0.attn_q.weight", "blk.17.ffn_down.weight"):
        a, b = pairs[name]
        w = gguf.quants.dequantize(base[name].data, base[name].tensor_type)
        w2 = gguf.quants.dequantize(out[name].data, out[name].tensor_type)
        update = (alpha / a.shape[0]) * (b @ a)
        assert out[name].tensor_type == gguf.GGMLQuantizationType.Q8_0
        # The weights moved by the update: projected onto it, the change is ~1x the update
        # (measured 0.99-1.00), and what is left is Q8_0 rounding, uncorrelated with it (a
        # Q5_0 requantization kept 0.05-0.12x of the update, correlation 0.1-0.2).
        change, target = (w2 - w).ravel(), update.ravel()
        assert 0.95 < float(change @ target / (target @ target)) < 1.05
        assert float(np.corrcoef(change, target)[0, 1]) > 0.8
    untouched = "token_embd.weight"
    assert np.array_equal(base[untouched].data, out[untouched].data)
    record = json.loads(folded.manifest.read_text())
    assert record["kind"] == "lora-fold"
    from quantize.fold_lora import is_folded  # what the bench reads to load no adapter

    assert is_folded(folded.path) and not is_folded(gemma_gguf)
    assert record["inputs"]["adapter"]["sha256"] and record["output"]["sha256"]


def _picks(model: Path, lora: Path | None, tokens: list[int]) -> np.ndarray:
    """Greedy next-token pick at every position of ``tokens`` (one teacher-forced decode)."""
    from generation.batch_context import LlamaContext
    from generation.sampling import logits_row

    settings = load_settings(REPO / "outreach.yaml")
    llm = LlamaContext(model, settings.model, n_seq=1, ctx_per_seq=1024, n_batch=len(tokens),
                       outputs_per_seq=len(tokens), lora_path=lora)
    try:
        for j, token in enumerate(tokens):
            llm.put(j, token, j, 0, True)
        llm.batch.n_tokens = len(tokens)
        rc, _ = llm.decode()
        assert rc == 0
        return np.array([int(np.argmax(logits_row(llm.ctx, j, llm.n_vocab)))
                         for j in range(len(tokens))])
    finally:
        llm.close()


def test_folded_model_predicts_like_the_runtime_adapter(gemma_gguf, folded):
    from tests.support.campaigns import example_campaign
    from training.prompt import trained_prompt
    from generation.batch_context import LlamaContext

    lead = {"lead_id": "fold-1", "first_name": "Maria", "last_name": "Lindqvist",
            "company": "Nordhavn Freight", "title": "Head of Finance", "industry": "logistics"}
    campaign = example_campaign("fold")
    # The adapter's own prompt format, then an email in the style it was trained on.
    text = trained_prompt(lead, campaign) + (
        "Subject: Maria, a faster close at Nordhavn Freight\n\nHi Maria,\n\nFinance teams in "
        "logistics often tell us that invoices pile up at month end. Would a short call next "
        "week be useful?\n\nBest regards,\n")
    settings = load_settings(REPO / "outreach.yaml")
    probe = LlamaContext(gemma_gguf, settings.model, n_seq=1, ctx_per_seq=1024, n_batch=64)
    try:
        tokens = probe.text.tokenize(text)[:500]
    finally:
        probe.close()
    adapter = _picks(gemma_gguf, ADAPTER, tokens)
    fold = _picks(folded.path, None, tokens)
    bare = _picks(gemma_gguf, None, tokens)
    fold_agrees = float(np.mean(fold == adapter))
    bare_agrees = float(np.mean(bare == adapter))
    assert fold_agrees >= 0.9, (fold_agrees, bare_agrees)
    assert fold_agrees > bare_agrees + 0.05, (fold_agrees, bare_agrees)


def test_refuses_a_file_that_is_not_an_adapter(gemma_gguf, tmp_path):
    from quantize.fold_lora import fold

    with pytest.raises(QuantizeError, match="not a LoRA adapter"):
        fold(gemma_gguf, gemma_gguf, tmp_path / "x.gguf")


def test_refuses_to_overwrite(gemma_gguf, folded):
    from quantize.fold_lora import fold

    with pytest.raises(QuantizeError, match="never overwrites"):
        fold(gemma_gguf, ADAPTER, folded.path)
