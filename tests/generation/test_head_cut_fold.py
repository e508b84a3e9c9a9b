"""The served adapter folded into the served 16k trim, served as a head cut with no runtime
adapter (quantize/fold_lora.py, generation/head_cut.py), on the real models: the default Gemma 3
270M GGUF, the trim rebuilt from its committed manifest and the served campaign adapter. No
mocks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("llama_cpp")
pytest.importorskip("gguf")

from outreach.settings import load_settings  # noqa: E402
from generation.batch import BatchEngine, GenRequest  # noqa: E402
from generation.model import default_model_path, sha256_of  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
TRIM_MANIFEST = REPO / "models/gemma3-270m-trim16k/vocab-trim.json"


@pytest.fixture(scope="module")
def settings():
    return load_settings(REPO / "outreach.yaml")


@pytest.fixture(scope="module")
def trim() -> Path:
    from quantize.trim.vocab import trim_like

    return trim_like(default_model_path(), TRIM_MANIFEST, REPO / "model-cache" / "trim")


@pytest.fixture(scope="module")
def adapter(settings) -> Path:
    return REPO / settings.model.lora_path


@pytest.fixture(scope="module")
def folded(tmp_path_factory, trim, adapter) -> Path:
    from quantize.fold_lora import fold

    return fold(trim, adapter, tmp_path_factory.mktemp("fold") / "trim+adapter.gguf").path


def test_the_fold_of_a_trim_records_what_a_head_cut_reads(trim, folded):
    """The kept ids are the trim's, the source is the untrimmed model (what the head cut embeds
    prompts from and checks), and the embedding table is the trim's, byte for byte: the adapter
    (attention and MLP only) leaves it alone, so the source's rows still feed the network."""
    import gguf

    from generation.head_cut import read_trim_manifest

    keep, source_sha = read_trim_manifest(folded)
    trim_keep, trim_source = read_trim_manifest(trim)
    assert np.array_equal(keep, trim_keep) and len(keep) > 40_000
    assert source_sha == trim_source == sha256_of(default_model_path())
    record = json.loads(folded.with_name(folded.name + ".manifest.json").read_text())
    assert record["kind"] == "lora-fold"
    assert record["inputs"]["base"]["sha256"] == sha256_of(trim)
    embd = [next(t for t in gguf.GGUFReader(p).tensors if t.name == "token_embd.weight")
            for p in (trim, folded)]
    assert np.array_equal(embd[0].data, embd[1].data)


@pytest.fixture(scope="module")
def prompts(settings) -> list[str]:
    from quantize.trim.corpus import campaigns
    from training.leads import generated
    from generation.prompt import build_prompt

    campaign = campaigns([REPO / "campaigns"])[0]
    leads = generated(4, 77, "fold-head-test")
    return [build_prompt(lead, campaign, None, settings).text for lead in leads]


def test_folded_head_cut_writes_like_the_runtime_adapters_head_cut(settings, trim, adapter,
                                                                   folded, prompts):
    """Greedy emails of the folded head cut (no runtime adapter) against the head cut with the
    adapter applied at run time. Q8_0 rounding of the folded weights moves logits a little, so
    two greedy emails may part where two tokens are nearly tied (teacher-forced, the fold picks
    the runtime adapter's token at >= 90% of positions: tests/quantize/test_fold_lora.py); they
    must start alike and keep the adapter's format: a subject line, then a greeting."""
    requests = [GenRequest(p, max_tokens=48, temperature=0.0) for p in prompts]
    out = {}
    for name, cut, lora in (("runtime", trim, adapter), ("folded", folded, None)):
        cfg = settings.model.model_copy(update={"trimmed_path": cut, "lora_path": lora})
        with BatchEngine(default_model_path(), cfg, slots=4, lora_path=lora) as engine:
            assert engine._llama.head is not None  # served as a head cut
            out[name] = engine.generate_many(requests)
    shared = []
    for runtime, fold in zip(out["runtime"], out["folded"]):
        assert fold.text.startswith("Subject:") and runtime.text.startswith("Subject:")
        assert "\n\n" in fold.text, fold.text  # subject line, blank line, body
        same = next((i for i, (a, b) in enumerate(zip(runtime.tokens, fold.tokens)) if a != b),
                    min(len(runtime.tokens), len(fold.tokens)))
        shared.append(same)
    assert min(shared) >= 3 and float(np.mean(shared)) >= 10, shared


def test_fold_like_rebuilds_the_recorded_bytes(trim, adapter, folded, tmp_path):
    """A committed fold manifest rebuilds the same file elsewhere (the update is summed in a
    fixed order in float64: no BLAS kernel decides the bytes); a wrong adapter is refused."""
    from outreach.errors import QuantizeError
    from quantize.fold_lora import fold_like

    recorded = folded.with_name(folded.name + ".manifest.json")
    again = fold_like(trim, adapter, recorded, tmp_path)
    assert again.name == folded.name and sha256_of(again) == sha256_of(folded)
    assert fold_like(trim, adapter, recorded, tmp_path) == again  # built: kept
    other = REPO / "models/gemma3-270m-campaigns-lora-v3/adapter.gguf"
    with pytest.raises(QuantizeError, match="not the adapter"):
        fold_like(trim, other, recorded, tmp_path / "other")


def test_a_fold_with_its_adapter_applied_again_is_refused(settings, adapter, folded):
    """Served with model.lora_path still set, the folded head cut would add the update twice."""
    from outreach.errors import ModelError
    from generation.model import resolve_model

    twice = settings.model.model_copy(update={"trimmed_path": folded, "lora_path": adapter})
    with pytest.raises(ModelError, match="folded in"):
        resolve_model(settings.model_copy(update={"model": twice}))
    once = settings.model.model_copy(update={"trimmed_path": folded, "lora_path": None})
    info = resolve_model(settings.model_copy(update={"model": once}))
    assert info.trimmed_path == folded and info.lora_path is None
