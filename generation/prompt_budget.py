"""The prompt's token budget: a request whose prompt cannot fit is refused before generating.

Field caps count characters, not tokens: 200 characters of CJK, emoji or byte-fallback text can
take ~200-800 tokens with Gemma's SentencePiece vocabulary, so a prompt built from capped fields
can still overrun the context. llama.cpp then raises, which used to escape as a ModelError
(the engine's fault, so the request was redelivered and failed again forever). Measured here
in tokens, the overrun is the request's own fault and becomes a dead letter with the reason.
"""

from __future__ import annotations

from outreach.settings import Settings


def context_tokens(generator: object, settings: Settings) -> int:
    """KV cells one sequence may use: a batched engine's slot, else the model's n_ctx."""
    engine = getattr(generator, "_engine", None)
    per_slot = getattr(engine, "ctx_per_slot", None)
    return int(per_slot) if per_slot else settings.model.n_ctx


def over_budget(prompt: str, generator: object, settings: Settings) -> str | None:
    """The reason ``prompt`` cannot be generated from, or None when it fits.

    The prompt plus ``model.max_tokens`` of output must fit one sequence's context; a prompt
    that leaves fewer than max_tokens cells would be cut off mid-email, which the checks reject
    anyway, after paying for the generation.
    """
    counter = getattr(generator, "count_tokens", None)
    if counter is None:  # an engine without a tokenizer (a remote endpoint): it decides
        return None
    limit = context_tokens(generator, settings) - settings.model.max_tokens
    tokens = counter(prompt)
    if tokens > limit:
        return (f"prompt too long: {tokens} tokens > {limit} (context "
                f"{context_tokens(generator, settings)} - max_tokens {settings.model.max_tokens})")
    return None
