"""`outreach train`: supervised fine-tuning (LoRA by default, or full) from a YAML recipe.

A plain torch loop rather than transformers.Trainer: the loss is computed on email tokens only
with the LM head applied to those positions alone (sft_data.masked_loss, ~1/3 less compute on
Gemma's 262k vocabulary), and checkpoints hold only what resuming needs (trainable weights,
optimizer, scheduler, step, RNG; 1.9M parameters for the default LoRA, ~25 MB with Adam state).
Deterministic: one seed drives init, dropout and the per-epoch data order, so a resumed run
continues on exactly the batches the uninterrupted run would have seen.
"""

from __future__ import annotations

import json
import math
import os
import random
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from outreach.errors import TrainingError
from training import base_model, gguf_adapter
from training.dataset import load_split
from training.recipe import Recipe
from training.sft_data import Encoded, collate, encode, masked_loss

Progress = Callable[[int, int, float], None]


def dataset_summary(data_manifest: Path) -> dict[str, Any]:
    """What the model manifest keeps of its dataset's: the hash, split counts and the teachers
    that wrote the examples (a campaign-data set names one teacher, a taught set counts several),
    so a model says what it learned from without the dataset on disk."""
    if not data_manifest.is_file():
        return {"manifest_sha256": None}
    data = json.loads(data_manifest.read_text())
    teachers = data.get("teachers")
    if teachers is None and data.get("teacher"):
        teachers = {data["teacher"]: sum(data.get("counts", {}).values())}
    return {"manifest_sha256": base_model.file_sha256(data_manifest),
            "counts": data.get("counts", {}), "teachers": teachers or {}}


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             check=True, cwd=Path(__file__).parent)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, cwd=Path(__file__).parent)
        return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def pick_device(recipe: Recipe) -> tuple[torch.device, torch.dtype]:
    cuda = torch.cuda.is_available() and recipe.device in ("auto", "cuda")
    if recipe.device == "cuda" and not cuda:
        raise TrainingError("recipe asks for cuda but no GPU is available")
    device = torch.device("cuda" if cuda else "cpu")
    if recipe.dtype == "bfloat16" or (recipe.dtype == "auto" and cuda
                                      and torch.cuda.is_bf16_supported()):
        return device, torch.bfloat16
    return device, torch.float32  # CPU: fp32 (bf16 matmuls are slower than fp32 on most CPUs)


def seed_all(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)


def prepare(model: Any, recipe: Recipe) -> Any:
    if recipe.method == "full":
        for param in model.parameters():
            param.requires_grad_(True)
        return model
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(r=recipe.lora.r, lora_alpha=recipe.lora.alpha,
                        lora_dropout=recipe.lora.dropout,
                        target_modules=recipe.lora.target_modules, task_type="CAUSAL_LM")
    return get_peft_model(model, config)


def encode_split(tokenizer: Any, rows: list[dict], recipe: Recipe) -> list[Encoded]:
    return [encode(tokenizer, r["prompt"], r["completion"], recipe.max_length) for r in rows]


def _trainable(model: Any) -> dict[str, torch.Tensor]:
    return {n: p for n, p in model.named_parameters() if p.requires_grad}


def save_checkpoint(path: Path, model: Any, optimizer: Any, scheduler: Any, step: int) -> None:
    path.mkdir(parents=True, exist_ok=True)
    tmp = path / "state.pt.tmp"
    torch.save({"step": step, "weights": {n: p.detach().cpu() for n, p in _trainable(model).items()},
                "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "torch_rng": torch.get_rng_state()}, tmp)
    os.replace(tmp, path / "state.pt")  # atomic: a crash mid-save keeps the last checkpoint


def load_checkpoint(path: Path, model: Any, optimizer: Any, scheduler: Any) -> int:
    # weights_only: a checkpoint holds only tensors and plain values, and unpickling anything
    # else from a file would run code from whoever could write that folder.
    state = torch.load(path / "state.pt", map_location="cpu", weights_only=True)
    params = _trainable(model)
    with torch.no_grad():
        for name, value in state["weights"].items():
            params[name].copy_(value)
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["torch_rng"])
    return int(state["step"])


@torch.no_grad()
def eval_loss(model: Any, examples: list[Encoded], pad_id: int, device: torch.device,
              batch_size: int) -> float | None:
    if not examples:
        return None
    model.eval()
    losses = []
    for i in range(0, len(examples), batch_size):
        batch = {k: v.to(device) for k, v in collate(examples[i:i + batch_size], pad_id).items()}
        losses.append(float(masked_loss(model, batch)))
    model.train()
    return sum(losses) / len(losses)


def batches_for(step: int, n: int, recipe: Recipe) -> list[int]:
    """Example indices of optimizer step ``step``: a seeded permutation per epoch."""
    per_step = recipe.batch_size * recipe.grad_accum
    steps_per_epoch = max(1, n // per_step)
    epoch, offset = divmod(step, steps_per_epoch)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(recipe.seed + epoch))
    return order[offset * per_step:(offset + 1) * per_step].tolist()


def train(recipe: Recipe, data_dir: Path, out_dir: Path, resume: bool = False,
          progress: Progress | None = None, model: Any = None, tokenizer: Any = None,
          base_ref: base_model.BaseRef | None = None) -> dict[str, Any]:
    """Fine-tune and write ``out_dir`` (adapter/ or model/, adapter.gguf, manifest.json).

    ``model``/``tokenizer`` may be passed in (the tests build a tiny random model); otherwise
    the recipe's base is loaded.
    """
    seed_all(recipe.seed)
    torch.set_num_threads(recipe.threads or max(1, len(os.sched_getaffinity(0))))
    device, dtype = pick_device(recipe)
    if model is None:
        base_ref = base_model.resolve_base(recipe.base)
        tokenizer = base_model.load_tokenizer(base_ref)
        model = base_model.load_model(base_ref, dtype)
    model = prepare(model.to(device=device, dtype=dtype), recipe)
    model.train()
    rows = load_split(data_dir, "train")[:recipe.max_train_examples]
    if not rows:
        raise TrainingError(f"{data_dir}/train.jsonl holds no examples")
    train_set = encode_split(tokenizer, rows, recipe)
    val_set = encode_split(tokenizer, load_split(data_dir, "validation")[:recipe.eval_examples],
                           recipe)
    per_step = recipe.batch_size * recipe.grad_accum
    total = math.ceil(len(train_set) / per_step * recipe.epochs)
    total = min(total, recipe.max_steps) if recipe.max_steps else total
    params = list(_trainable(model).values())
    optimizer = torch.optim.AdamW(params, lr=recipe.learning_rate,
                                  weight_decay=recipe.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(
        1.0, (s + 1) / max(1, recipe.warmup_steps)) * max(0.0, 1 - s / max(1, total)))
    ckpt = out_dir / "checkpoint"
    step = load_checkpoint(ckpt, model, optimizer, scheduler) if resume and \
        (ckpt / "state.pt").is_file() else 0
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    initial_val = eval_loss(model, val_set, pad_id, device, recipe.batch_size) if step == 0 else None
    started, tokens, losses = time.perf_counter(), 0, []
    while step < total:
        indices = batches_for(step, len(train_set), recipe)
        optimizer.zero_grad(set_to_none=True)
        step_loss = 0.0
        for i in range(0, len(indices), recipe.batch_size):
            chunk = [train_set[j] for j in indices[i:i + recipe.batch_size]]
            batch = {k: v.to(device) for k, v in collate(chunk, pad_id).items()}
            loss = masked_loss(model, batch) / recipe.grad_accum
            loss.backward()
            step_loss += float(loss.detach())
            tokens += int(batch["attention_mask"].sum())
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        scheduler.step()
        step += 1
        losses.append(step_loss)
        if step % recipe.save_every == 0 or step == total:
            save_checkpoint(ckpt, model, optimizer, scheduler, step)
        if progress:  # after the checkpoint, so an interrupt here loses no saved step
            progress(step, total, step_loss)
    seconds = time.perf_counter() - started
    metrics = {"steps": step, "train_examples": len(train_set), "train_seconds": round(seconds, 1),
               "tokens_seen": tokens, "tokens_per_second": round(tokens / seconds, 1) if seconds else 0,
               "first_loss": round(losses[0], 4) if losses else None,
               "final_loss": round(sum(losses[-5:]) / len(losses[-5:]), 4) if losses else None,
               "validation_loss_before": initial_val,
               "validation_loss_after": eval_loss(model, val_set, pad_id, device,
                                                  recipe.batch_size),
               "trainable_parameters": sum(p.numel() for p in params),
               "device": str(device), "dtype": str(dtype).removeprefix("torch.")}
    return finish(model, tokenizer, recipe, data_dir, out_dir, base_ref, metrics)


def finish(model: Any, tokenizer: Any, recipe: Recipe, data_dir: Path, out_dir: Path,
           base_ref: base_model.BaseRef | None, metrics: dict[str, Any]) -> dict[str, Any]:
    out_dir.mkdir(parents=True, exist_ok=True)
    outputs: dict[str, Any] = {}
    config = (model.get_base_model() if recipe.method == "lora" else model).config
    if recipe.method == "lora":
        model.save_pretrained(out_dir / "adapter")
        outputs["adapter"] = "adapter"
        try:
            state = {k: v for k, v in model.state_dict().items() if "lora_" in k}
            outputs["gguf_adapter"] = {"path": "adapter.gguf", **gguf_adapter.export(
                state, out_dir / "adapter.gguf", model_type=config.model_type,
                n_layers=config.num_hidden_layers, alpha=recipe.lora.alpha,
                dtype=recipe.gguf_adapter_dtype)}
        except TrainingError as exc:  # e.g. an architecture llama.cpp has no mapping for
            outputs["gguf_adapter"] = {"error": str(exc)}
    else:
        model.save_pretrained(out_dir / "model")
        tokenizer.save_pretrained(out_dir / "model")  # a model directory loads on its own
        outputs["model"] = "model"
    data_manifest = data_dir / "manifest.json"
    manifest = {
        "name": recipe.name, "method": recipe.method,
        "base": {"path": str(base_ref.path) if base_ref else "in-memory",
                 "sha256": base_ref.sha256 if base_ref else None,
                 "model_type": config.model_type},
        "recipe": recipe.model_dump(mode="json"),
        "dataset": {"dir": str(data_dir), **dataset_summary(data_manifest)},
        "metrics": metrics, "outputs": outputs, "git_commit": git_commit(),
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest
