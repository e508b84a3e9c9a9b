"""The Generator interface (generate -> Completion) on top of the continuous-batching engine.

draft_for_request stays one blocking call per request; the worker runs up to ``batch_slots`` +
``worker.queue_depth`` of them on threads, and every call lands in the same BatchEngine, which
decodes them together (one llama_decode per step for all running sequences) and keeps the rest
queued, a retry ahead of first attempts.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict

from outreach.settings import Settings
from generation.batch import BatchEngine, EngineStats, GenRequest
from generation.engine import Completion, SharedPrefix
from generation.model import ModelInfo

# The line after a campaign's block in every prompt style (generation/prompt.py evidence_line):
# the facts retrieval picked for the lead, the same line for every lead that got those facts.
EVIDENCE_LINE = "Evidence: "


def shared_chars(prompt: str, static_prefix: str) -> int:
    """How much of ``prompt`` other leads' prompts are likely to share: the campaign block
    ``static_prefix`` and the evidence line after it (the bench's 48 leads have 15 distinct
    lines, ~52 tokens each); 0 when ``prompt`` is not laid out so."""
    start = len(static_prefix)
    if not (static_prefix and prompt.startswith(static_prefix)
            and prompt.startswith(EVIDENCE_LINE, start)):
        return 0
    end = prompt.find("\n", start)
    return end + 1 if end >= 0 else 0


class BatchedGenerator:
    """Drop-in for generation.engine.Generator that shares one BatchEngine between threads."""

    def __init__(self, model: ModelInfo, settings: Settings) -> None:
        self.model = model
        self.slots = settings.model.batch_slots
        self._engine = BatchEngine(model.path, settings.model, lora_path=model.lora_path,
                                   prefix_slots=settings.model.prefix_slots,
                                   shared_slots=settings.model.shared_prefix_slots)
        # The campaign prefixes the engine holds, least recently used first. Bounded like the
        # engine's prefix sequences: a worker serving more campaigns than model.prefix_slots
        # re-decodes a campaign's block (~150-500 tokens, 0.3-1 s on 2 cores) when it returns.
        self._prefixes: OrderedDict[tuple[object, ...], str] = OrderedDict()
        self._prefix_lock = threading.Lock()
        self._recent: OrderedDict[bytes, None] = OrderedDict()  # prompt digests, for _seen
        self._recent_lock = threading.Lock()

    def set_prefix(self, text: str) -> int:
        """Share ``text`` (a campaign's Prompt.static_prefix) across the sequences that start
        with it; the engine keeps the most recently used prefixes."""
        return self._engine.set_prefix(text)

    def stats(self) -> EngineStats:
        """The engine's counters (prefix_decodes: campaign blocks decoded so far)."""
        return self._engine.stats()

    def count_tokens(self, text: str) -> int:
        return self._engine.count_tokens(text)

    def use_prefix(self, prefix: SharedPrefix) -> None:
        """Make sure the engine holds ``prefix`` (decoded once per key while it stays cached);
        the first of many threads with one campaign decodes it, the others wait on the lock."""
        if not prefix.text or self._engine.prefix_slots == 0:
            return
        with self._prefix_lock:
            if self._prefixes.get(prefix.key) == prefix.text:
                self._prefixes.move_to_end(prefix.key)
                return
            self._engine.set_prefix(prefix.text)  # replaces the engine's least recently used
            self._prefixes[prefix.key] = prefix.text
            self._prefixes.move_to_end(prefix.key)
            while len(self._prefixes) > self._engine.prefix_slots:
                self._prefixes.popitem(last=False)

    def generate(self, prompt: str, max_tokens: int, seed: int, grammar: str | None = None,
                 stop: tuple[str, ...] | list[str] = (),
                 prefix: SharedPrefix | None = None) -> Completion:
        if prefix is not None:
            self.use_prefix(prefix)
        cpu_before, tokens_before = self._engine_cpu()
        share = shared_chars(prompt, prefix.text) if prefix is not None else 0
        result = self._engine.submit(GenRequest(prompt=prompt, max_tokens=max_tokens, seed=seed,
                                                stop=tuple(stop), grammar=grammar,
                                                share_chars=share,
                                                urgent=self._seen(prompt))).result()
        cpu_after, tokens_after = self._engine_cpu()
        # The engine's CPU time during this request was shared by every sequence decoded
        # beside it; this request's share is its own tokens over all tokens evaluated meanwhile.
        own = result.completion_tokens + result.prompt_tokens - result.cached_tokens
        share = min(1.0, own / max(1, tokens_after - tokens_before))
        return Completion(text=result.text, prompt_tokens=result.prompt_tokens,
                          completion_tokens=result.completion_tokens, seconds=result.seconds,
                          cpu_seconds=(cpu_after - cpu_before) * share,
                          finish_reason=result.finish_reason)

    def _seen(self, prompt: str) -> bool:
        """True for a prompt generated lately (a retry: draft_for_request writes each attempt
        of a request from the same prompt with another seed); remembers 4 x slots prompts."""
        key = hashlib.blake2b(prompt.encode(), digest_size=16).digest()
        with self._recent_lock:
            seen = key in self._recent
            self._recent[key] = None
            self._recent.move_to_end(key)
            while len(self._recent) > 4 * self.slots:
                self._recent.popitem(last=False)
        return seen

    def _engine_cpu(self) -> tuple[float, int]:
        stats = self._engine.stats()
        return time.process_time(), stats.decoded_tokens + stats.prefill_tokens

    def close(self) -> None:
        self._engine.close()

    def __enter__(self) -> BatchedGenerator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
