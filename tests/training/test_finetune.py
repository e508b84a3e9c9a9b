"""Fine-tuning on a tiny random Gemma 3 with the real Gemma tokenizer: loss masking, LoRA
isolation, full fine-tuning, checkpoint/resume determinism and the output manifest."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from tiny_models import tiny_gemma  # noqa: E402
from training import train as trainer  # noqa: E402
from training.dataset import load_split  # noqa: E402
from training.recipe import Recipe  # noqa: E402
from training.sft_data import IGNORE, collate, encode, masked_loss  # noqa: E402


def _recipe(**overrides) -> Recipe:
    params = dict(max_steps=3, batch_size=2, save_every=1, eval_examples=2, learning_rate=1e-2,
                  warmup_steps=1, lora={"r": 4, "alpha": 8, "dropout": 0.0})
    params.update(overrides)
    return Recipe(**params)


def test_prompt_tokens_are_masked(gemma_tokenizer, small_dataset):
    row = load_split(small_dataset, "train")[0]
    enc = encode(gemma_tokenizer, row["prompt"], row["completion"], 1000)
    prompt_len = 1 + len(gemma_tokenizer(row["prompt"], add_special_tokens=False).input_ids)
    assert enc.input_ids[0] == gemma_tokenizer.bos_token_id
    assert all(label == IGNORE for label in enc.labels[:prompt_len])
    assert enc.labels[prompt_len:] == enc.input_ids[prompt_len:]
    assert enc.labels[-1] == gemma_tokenizer.eos_token_id
    model = tiny_gemma(len(gemma_tokenizer))
    batch = collate([enc], pad_id=0)
    ours = masked_loss(model, batch)
    reference = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                      labels=batch["labels"]).loss
    assert torch.allclose(ours, reference, atol=1e-5)
    # Changing the prompt's labels to real ids would change the loss: the mask matters.
    unmasked = dict(batch, labels=batch["input_ids"].clone())
    assert not torch.allclose(masked_loss(model, unmasked), ours)


def test_lora_trains_adapter_only(gemma_tokenizer, small_dataset, tmp_path):
    model = tiny_gemma(len(gemma_tokenizer))
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    manifest = trainer.train(_recipe(max_steps=4), small_dataset, tmp_path / "run", model=model,
                             tokenizer=gemma_tokenizer)
    peft_params = dict(model.named_parameters())
    changed_lora = 0
    for name, param in peft_params.items():
        if "lora_" in name:
            changed_lora += "lora_B" in name and bool(param.abs().sum() > 0)
            continue
        base_name = name.replace("base_model.model.", "").replace(".base_layer", "")
        assert torch.equal(param, before[base_name]), name
    assert changed_lora == 2 * 7  # 2 layers x 7 target modules moved away from zero
    metrics = manifest["metrics"]
    assert metrics["steps"] == 4 and metrics["tokens_seen"] > 0
    assert metrics["validation_loss_after"] < metrics["validation_loss_before"]
    assert (tmp_path / "run" / "adapter" / "adapter_config.json").is_file()
    assert manifest["outputs"]["gguf_adapter"]["tensors"] == 14
    written = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert written["dataset"]["manifest_sha256"] and written["git_commit"]
    # The model says who wrote its examples without the dataset on disk (the default-model
    # test reads this to know the adapter was trained on campaign data).
    data_manifest = json.loads((small_dataset / "manifest.json").read_text())
    assert written["dataset"]["teachers"] == data_manifest["teachers"]
    assert written["dataset"]["counts"] == data_manifest["counts"]
    assert written["recipe"]["method"] == "lora"


def test_full_finetune_changes_base_weights(gemma_tokenizer, small_dataset, tmp_path, brief):
    model = tiny_gemma(len(gemma_tokenizer))
    before = model.model.layers[0].mlp.up_proj.weight.detach().clone()
    manifest = trainer.train(_recipe(method="full", max_steps=2, learning_rate=1e-3),
                             small_dataset, tmp_path / "full", model=model,
                             tokenizer=gemma_tokenizer)
    assert not torch.equal(model.model.layers[0].mlp.up_proj.weight, before)
    assert (tmp_path / "full" / "model" / "config.json").is_file()
    assert manifest["outputs"] == {"model": "model"}
    # The saved directory is a complete model: `outreach eval --hf-model` generates with it.
    from outreach.settings import load_settings
    from training import evaluate

    rows = load_split(small_dataset, "test")[:2]
    writer = evaluate.hf_writer(tmp_path / "full" / "model", load_settings(None), max_tokens=8)
    result = evaluate.run_system("full", writer, rows, brief, usd_per_vcpu_hour=0.04)
    assert result["summary"]["n"] == 2 and 0 <= result["summary"]["overall"] <= 1


def test_resume_continues_exactly(gemma_tokenizer, small_dataset, tmp_path):
    recipe = _recipe(max_steps=4, lora={"r": 4, "alpha": 8, "dropout": 0.1})
    straight = tiny_gemma(len(gemma_tokenizer))
    trainer.train(recipe, small_dataset, tmp_path / "a", model=straight, tokenizer=gemma_tokenizer)

    class Interrupt(Exception):
        pass

    def stop_at_two(step: int, total: int, loss: float) -> None:
        if step == 2:
            raise Interrupt

    with pytest.raises(Interrupt):
        trainer.train(recipe, small_dataset, tmp_path / "b", model=tiny_gemma(len(gemma_tokenizer)),
                      tokenizer=gemma_tokenizer, progress=stop_at_two)
    resumed = tiny_gemma(len(gemma_tokenizer))
    manifest = trainer.train(recipe, small_dataset, tmp_path / "b", resume=True, model=resumed,
                             tokenizer=gemma_tokenizer)
    assert manifest["metrics"]["steps"] == 4
    a = {n: p for n, p in straight.named_parameters() if "lora_" in n}
    b = {n: p for n, p in resumed.named_parameters() if "lora_" in n}
    assert a.keys() == b.keys()
    for name in a:
        assert torch.allclose(a[name], b[name], atol=1e-6), name
