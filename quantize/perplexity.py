"""Perplexity of a GGUF on held-out (prompt, completion) examples, with llama.cpp.

What is measured is what the model is trained and served for: the email given the lead. Each
example is tokenized as in training (training/sft_data.py: BOS + prompt + completion + EOS, the
two parts tokenized separately) and the negative log-likelihood is summed over the completion
tokens and the EOS only; perplexity = exp(mean NLL). The same rows on the F16 source and on its
quantized file give the quantization's cost in one number.

Logits are requested only for the positions that predict a completion token: Gemma's output
head is 262,144 wide (1 MB of float32 per position), so a 128-token chunk holds at most 128 MB
of logits instead of the 512 MB that logits for every position of a 512-token context would.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from outreach.errors import ModelError, QuantizeError
from outreach.settings import ModelSettings

# The trained prompt is ~75 tokens and an email ~130 (training/recipes: max_length 320), so 512
# holds every held-out example whole; longer ones are cut and counted as "truncated".
N_CTX = 512
# Tokens per llama_decode call, and so the most logits rows held at once (see above).
CHUNK = 128


def _nll(logits: np.ndarray, targets: list[int]) -> float:
    """Sum of -log softmax(logits[i])[targets[i]], in float64 (262k-wide sums lose float32
    precision)."""
    rows = logits.astype(np.float64)
    peak = rows.max(axis=1, keepdims=True)
    log_z = np.log(np.exp(rows - peak).sum(axis=1)) + peak[:, 0]
    return float((log_z - rows[np.arange(len(targets)), targets]).sum())


def perplexity(gguf: Path, rows: list[dict[str, Any]], *, n_ctx: int = N_CTX,
               n_threads: int | None = None, n_gpu_layers: int = 0) -> dict[str, Any]:
    """{"perplexity", "nll_mean", "tokens", "examples", "truncated", "seconds"} of ``gguf`` on
    ``rows`` (dataset rows with "prompt" and "completion")."""
    try:
        import llama_cpp as lc

        from generation.batch_context import LlamaContext
    except ImportError as exc:
        raise QuantizeError("perplexity needs llama-cpp-python: pip install "
                            "'miniature-outreach[worker]'") from exc
    if not rows:
        raise QuantizeError("perplexity needs at least one example")
    started = time.perf_counter()
    cfg = ModelSettings(n_gpu_layers=n_gpu_layers, n_threads=n_threads)
    try:
        llm = LlamaContext(gguf, cfg, n_seq=1, ctx_per_seq=n_ctx, n_batch=CHUNK,
                           outputs_per_seq=CHUNK)
    except ModelError as exc:
        raise QuantizeError(f"cannot load {gguf} for perplexity: {exc}") from exc
    total, count, truncated = 0.0, 0, 0
    try:
        eos = int(lc.llama_vocab_eos(lc.llama_model_get_vocab(llm.model)))
        limit = min(n_ctx, llm.ctx_per_seq)
        for row in rows:
            prompt = llm.text.tokenize(row["prompt"], add_bos=True)
            tokens = prompt + llm.text.tokenize(row["completion"], add_bos=False) + [eos]
            if len(tokens) > limit:
                tokens, truncated = tokens[:limit], truncated + 1
            first = len(prompt)  # index of the first completion token
            if first >= len(tokens):
                continue  # the prompt alone fills the context: nothing to score
            llm.clear(0)
            for start in range(0, len(tokens), llm.n_batch):
                chunk = tokens[start:start + llm.n_batch]
                # Position i predicts token i + 1: ask for logits where that is a completion
                # token (the last prompt token predicts the first completion token).
                wanted = [start + j for j in range(len(chunk))
                          if first <= start + j + 1 < len(tokens)]
                for j, token in enumerate(chunk):
                    llm.put(j, token, start + j, 0, first <= start + j + 1 < len(tokens))
                llm.batch.n_tokens = len(chunk)
                rc, _ = llm.decode()
                if rc != 0:
                    raise QuantizeError(f"llama_decode failed with status {rc} on {gguf}")
                if not wanted:
                    continue
                ptr = lc.llama_get_logits(llm.ctx)
                logits = np.ctypeslib.as_array(ptr, shape=(len(wanted), llm.n_vocab))
                total += _nll(logits, [tokens[i + 1] for i in wanted])
                count += len(wanted)
    finally:
        llm.close()
    if count == 0:
        raise QuantizeError("no completion tokens to score (prompts longer than the context?)")
    mean = total / count
    return {"perplexity": math.exp(mean) if mean < 700 else math.inf, "nll_mean": mean,
            "tokens": count, "examples": len(rows), "truncated": truncated,
            "seconds": round(time.perf_counter() - started, 2)}
