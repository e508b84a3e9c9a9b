"""Tiny random Gemma 3 models for tests (2 layers, hidden 64): a step takes < 1 s."""

from __future__ import annotations


def tiny_gemma(vocab_size: int, seed: int = 0, **overrides):
    """A random Gemma 3 causal LM with 2 layers; ``overrides`` change the config."""
    import torch
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    params = dict(vocab_size=vocab_size, hidden_size=64, intermediate_size=128,
                  num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1, head_dim=32,
                  pad_token_id=0, bos_token_id=2, eos_token_id=1, layer_types=None)
    params.update(overrides)
    torch.manual_seed(seed)
    return Gemma3ForCausalLM(Gemma3TextConfig(**params))
