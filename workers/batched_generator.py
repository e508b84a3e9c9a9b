"""The Generator interface (generate -> Completion) on top of the continuous-batching engine.

draft_for_request stays one blocking call per request; the worker runs up to ``batch_slots`` of
them on threads, and every call lands in the same BatchEngine, which decodes them together
(one llama_decode per step for all running sequences).
"""

from __future__ import annotations

import time

from outreach.settings import Settings
from workers.batch import BatchEngine, GenRequest
from workers.engine import Completion
from workers.model import ModelInfo
from workers.prompt import STATIC_PREFIX


class BatchedGenerator:
    """Drop-in for workers.engine.Generator that shares one BatchEngine between threads."""

    def __init__(self, model: ModelInfo, settings: Settings) -> None:
        self.model = model
        self.slots = settings.model.batch_slots
        self._engine = BatchEngine(model.path, settings.model, lora_path=model.lora_path)
        if settings.model.prompt_style == "few_shot":
            # Instructions + worked examples: ~420 tokens decoded once instead of per lead.
            self._engine.set_prefix(STATIC_PREFIX)

    def count_tokens(self, text: str) -> int:
        return self._engine.count_tokens(text)

    def generate(self, prompt: str, max_tokens: int, seed: int, grammar: str | None = None,
                 stop: tuple[str, ...] | list[str] = ()) -> Completion:
        cpu_before, tokens_before = self._engine_cpu()
        result = self._engine.submit(GenRequest(prompt=prompt, max_tokens=max_tokens, seed=seed,
                                                stop=tuple(stop), grammar=grammar)).result()
        cpu_after, tokens_after = self._engine_cpu()
        # The engine's CPU time during this request was shared by every sequence decoded
        # beside it; this request's share is its own tokens over all tokens evaluated meanwhile.
        own = result.completion_tokens + result.prompt_tokens - result.cached_tokens
        share = min(1.0, own / max(1, tokens_after - tokens_before))
        return Completion(text=result.text, prompt_tokens=result.prompt_tokens,
                          completion_tokens=result.completion_tokens, seconds=result.seconds,
                          cpu_seconds=(cpu_after - cpu_before) * share,
                          finish_reason=result.finish_reason)

    def _engine_cpu(self) -> tuple[float, int]:
        stats = self._engine.stats()
        return time.process_time(), stats.decoded_tokens + stats.prefill_tokens

    def close(self) -> None:
        self._engine.close()

    def __enter__(self) -> BatchedGenerator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
