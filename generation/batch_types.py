"""The batch engine's records: a request, its result, and the engine's counters.

Kept apart from generation/batch.py (the decode loop) so callers that only build requests or
read stats (workers, bench, the gate) do not read the engine to find them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GenRequest:
    """One completion. ``prompt`` is the whole prompt (shared prefix included); ``None`` sampling
    fields take the engine's settings; ``temperature=0`` is greedy."""

    prompt: str
    max_tokens: int = 160
    seed: int = 0
    stop: tuple[str, ...] = ()
    grammar: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    repeat_penalty: float | None = None
    # The start of ``prompt`` (in characters) that later requests are likely to share beyond
    # a registered prefix: a campaign block plus one lead's retrieved evidence. The engine
    # keeps its KV in a shared slot; 0 = nothing to keep (generation/batch.py).
    share_chars: int = 0
    # Queued ahead of requests that are not (in submission order among urgent ones): a retry
    # whose lead already waited a whole attempt, so that retry chains finish while the batch
    # is still full instead of running nearly alone at the end of a run.
    urgent: bool = False


@dataclass(frozen=True)
class GenResult:
    text: str  # cut before the first stop string
    tokens: tuple[int, ...]  # every generated token (a stop string's tokens included)
    prompt_tokens: int
    cached_tokens: int  # prompt tokens taken from a shared prefix instead of being prefilled
    completion_tokens: int
    seconds: float  # submit -> result, queueing included
    queued_seconds: float  # submit -> admitted to a slot
    finish_reason: str  # "stop" (stop string, end-of-generation token) or "length"


@dataclass(frozen=True)
class EngineStats:
    steps: int
    decoded_tokens: int  # sampled tokens fed back (one per decoding sequence per step)
    prefill_tokens: int  # prompt tokens prefilled (shared prefixes and each last token, which
    #                      a step decodes, excluded)
    decode_seconds: float  # wall time inside llama_decode
    busy_seconds: float  # wall time of steps and prefills (decode + sampling + bookkeeping)
    moves: int  # KV streams moved to close a gap in the running sequence ids
    # The per-step profile (subsets of the above): llama_decode of prompt chunks, picking and
    # accepting the sampled tokens, and admitting requests (tokenize, sampler, prefix copy,
    # prefill, first token).
    prefill_seconds: float = 0.0
    sample_seconds: float = 0.0
    admit_seconds: float = 0.0
    # Shared prefixes decoded into their reserved sequences (set_prefix of a text not held).
    prefix_decodes: int = 0
    prefix_tokens: int = 0
    # Prefixes kept from requests (GenRequest.share_chars), and prompt tokens copied from any
    # prefix instead of being prefilled.
    prefix_keeps: int = 0
    reused_tokens: int = 0


@dataclass
class EngineCounts:
    """The running totals behind EngineStats; only the decode thread writes them."""

    steps: int = 0
    decoded_tokens: int = 0
    prefill_tokens: int = 0
    decode_seconds: float = 0.0
    busy_seconds: float = 0.0
    moves: int = 0
    prefill_seconds: float = 0.0
    sample_seconds: float = 0.0
    admit_seconds: float = 0.0
