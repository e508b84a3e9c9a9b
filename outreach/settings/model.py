"""Section ``model``: the GGUF served, its sampling and the batched engine."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field


class ModelSettings(BaseModel):
    gguf_path: Path | None = Field(None, description="Any GGUF; default: Gemma 3 270M Q4_K_M.")
    lora_path: Path | None = None
    trimmed_path: Path | None = Field(None, description=(
        "A vocabulary trim of gguf_path (outreach quantize trim --vocab N) that the batched "
        "engine runs in its place as a head cut: prompts are tokenized and embedded by "
        "gguf_path, the output scores the trim's tokens plus each prompt's own "
        "(generation/head_cut.py)."))
    model_id: str | None = Field(None, description="Name recorded on drafts; default: file name.")
    model_version: str = ""
    n_gpu_layers: int = Field(0, description="0 = CPU; -1 or 99 = offload every layer.")
    n_ctx: int = 2048
    n_threads: int | None = None
    n_batch: int = 512
    prompt_style: Literal["few_shot", "trained"] = Field(
        "few_shot", description="few_shot for an untuned base; trained for a fine-tuned "
        "miniature (the format training/ fine-tunes on).")
    max_tokens: int = Field(160, ge=16)
    temperature: float = 0.7
    top_p: float = 0.95
    repeat_penalty: float = 1.1
    # Batched engine (generation/batch.py): sequences decoded together, and KV cells per sequence.
    # 16 sequences tripled generated tok/s on 2 cores (52 -> 168); a prompt (~430 tokens with
    # the few-shot prefix) plus a 160-token email fits 1024 with room to spare.
    batch_slots: int = Field(16, ge=1, le=255)
    ctx_per_slot: int = Field(1024, ge=64)
    prefix_slots: int = Field(4, ge=0, le=64, description=(
        "Campaign prefixes the batched engine keeps decoded, one per (campaign, version); each "
        "is a KV stream of ctx_per_slot cells (~19 MB at 1024); the least recently used goes."))
    shared_prefix_slots: int = Field(8, ge=0, le=64, description=(
        "Campaign block + retrieved evidence prefixes the batched engine keeps from requests "
        "(leads whose retrieval picks the same facts share them), each a KV stream like a "
        "prefix slot; the least recently used goes. 0 = off."))
