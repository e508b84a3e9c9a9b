"""Tokenized supervised examples with the prompt masked out of the loss.

Prompt and completion are tokenized separately, exactly as they are served: llama.cpp tokenizes
the prompt alone (with BOS) and the model then writes the completion token by token, so the
training ids are BOS + tokens(prompt) + tokens(completion) + EOS (measured: the GGUF tokenizer
in transformers and llama.cpp's give identical ids for the prompt). Labels are -100 on the
prompt, so the loss (and its gradient) comes from the email tokens only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

IGNORE = -100


@dataclass(frozen=True)
class Encoded:
    input_ids: list[int]
    labels: list[int]

    @property
    def completion_tokens(self) -> int:
        return sum(1 for label in self.labels if label != IGNORE)


def encode(tokenizer: Any, prompt: str, completion: str, max_length: int) -> Encoded:
    prompt_ids = tokenizer(prompt, add_special_tokens=False).input_ids
    completion_ids = tokenizer(completion, add_special_tokens=False).input_ids
    bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    ids = bos + prompt_ids + completion_ids + [tokenizer.eos_token_id]
    labels = [IGNORE] * (len(bos) + len(prompt_ids)) + completion_ids + [tokenizer.eos_token_id]
    return Encoded(ids[:max_length], labels[:max_length])


def collate(batch: list[Encoded], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad to the longest example; padding is masked from attention and loss."""
    width = max(len(e.input_ids) for e in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for i, e in enumerate(batch):
        ids[i, :len(e.input_ids)] = torch.tensor(e.input_ids)
        labels[i, :len(e.labels)] = torch.tensor(e.labels)
        mask[i, :len(e.input_ids)] = 1
    return {"input_ids": ids, "labels": labels, "attention_mask": mask}


def masked_loss(model: Any, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Mean cross-entropy over completion tokens.

    The LM head is applied only at positions whose next token is labelled: with Gemma's 262k
    vocabulary the head costs 640 x 262,144 = 168M MACs per position, more than the rest of the
    270M model, so skipping the ~40% prompt positions saves about a third of the compute.
    """
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    hidden = inner.model(input_ids=batch["input_ids"],
                         attention_mask=batch["attention_mask"]).last_hidden_state
    targets = batch["labels"][:, 1:]
    keep = targets != IGNORE
    picked = hidden[:, :-1][keep]
    logits = inner.lm_head(picked).float()
    cap = getattr(inner.config, "final_logit_softcapping", None)
    if cap:
        logits = torch.tanh(logits / cap) * cap
    return torch.nn.functional.cross_entropy(logits, targets[keep])
