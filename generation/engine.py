"""llama.cpp through llama-cpp-python's high-level API: one loaded model, one completion at a time.

Inference is blocking and CPU/GPU bound; it runs in the worker's own thread, never on an asyncio
or Faust event loop. A lock serializes calls because a ``Llama`` object (its KV cache, sampler
and batch) is not safe to share between threads.

Grammars: with Gemma 3's 262k-token vocabulary every grammar-constrained step checks the whole
vocabulary, which cut generation from 50 to 9.5 tok/s (measured), so a grammar is used only on a
retry. ``LlamaGrammar.from_json_schema`` is never used: with maxLength it produced a grammar
llama.cpp refused and the process then died with a segmentation fault (measured).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from outreach.errors import ModelError
from outreach.settings import Settings
from generation.llama_compat import safe_model_params
from generation.model import ModelInfo

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: int
    completion_tokens: int
    seconds: float  # wall time of the call
    cpu_seconds: float  # process CPU time during the call (all llama.cpp threads)
    finish_reason: str = ""  # "stop" (stop sequence, end of text or grammar end) or "length"

    @property
    def tokens_per_second(self) -> float:
        return self.completion_tokens / self.seconds if self.seconds > 0 else 0.0


def _default_threads() -> int:
    # One thread per physical core (llama-cpp-python's own default is half the CPUs). Measured
    # on 2 cores: 42 tok/s with 2 threads vs 25 with 1 on an idle machine; but llama.cpp's
    # threads spin on barriers, so when other busy processes share the cores 2 threads fell to
    # 0.4 tok/s while 1 kept 21. Set model.n_threads below the core count on shared machines.
    from generation.batch_context import physical_cores

    return physical_cores()


@dataclass(frozen=True)
class SharedPrefix:
    """The start of a prompt that many prompts share (a campaign version's block): ``key`` names
    it (campaign id, version, prompt style), ``text`` is it, byte for byte."""

    key: tuple[object, ...]
    text: str


@lru_cache(maxsize=8)
def _compile_grammar(gbnf: str) -> Any:
    from llama_cpp import LlamaGrammar

    try:
        return LlamaGrammar.from_string(gbnf, verbose=False)
    except (ValueError, RuntimeError) as exc:
        raise ModelError(f"invalid GBNF grammar: {exc}") from exc


class Generator:
    """A loaded GGUF model (plus optional LoRA adapter) that completes prompts."""

    def __init__(self, model: ModelInfo, settings: Settings) -> None:
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise ModelError("llama-cpp-python is not installed: "
                             "pip install 'miniature-outreach[worker]'") from exc
        cfg = settings.model
        if model.trimmed_path is not None:
            raise ModelError("a head cut (model.trimmed_path) is served by the batched engine "
                             "only (generation/batch.py); set model.trimmed_path: null for Llama")
        self.model = model
        self.sampling = {"temperature": cfg.temperature, "top_p": cfg.top_p,
                         "repeat_penalty": cfg.repeat_penalty}
        self._lock = threading.Lock()
        kwargs: dict[str, Any] = {
            "model_path": str(model.path), "n_ctx": cfg.n_ctx, "n_batch": cfg.n_batch,
            "n_threads": cfg.n_threads or _default_threads(), "n_gpu_layers": cfg.n_gpu_layers,
            "logits_all": False, "verbose": False}
        if model.lora_path is not None:
            kwargs["lora_path"] = str(model.lora_path)
        started = time.perf_counter()
        try:
            with safe_model_params():  # llama.cpp's AMX buffers crash (generation/llama_compat.py)
                self._llama = Llama(**kwargs)
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelError(f"cannot load {model.path}: {exc}") from exc
        log.info("loaded %s (%s) in %.1f s, n_ctx=%d threads=%d gpu_layers=%d", model.model_id,
                 model.sha256[:12], time.perf_counter() - started, cfg.n_ctx,
                 kwargs["n_threads"], cfg.n_gpu_layers)

    def count_tokens(self, text: str) -> int:
        return len(self._llama.tokenize(text.encode(), add_bos=True, special=False))

    def generate(self, prompt: str, max_tokens: int, seed: int, grammar: str | None = None,
                 stop: tuple[str, ...] | list[str] = (),
                 prefix: SharedPrefix | None = None) -> Completion:
        """Complete ``prompt``; the same prompt, seed and model give the same text.

        ``prefix`` needs nothing here: Llama keeps the previous prompt's KV cache and evaluates
        only the tokens after the longest common prefix, so consecutive leads of one campaign
        share its block already."""
        compiled = _compile_grammar(grammar) if grammar else None
        with self._lock:
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                # Tokenize with special-token parsing OFF: Llama would otherwise turn text such
                # as "<end_of_turn>" or "<eos>" inside an untrusted lead field into real control
                # tokens. The prompt is plain text; only the BOS is special.
                tokens = self._llama.tokenize(prompt.encode(), add_bos=True, special=False)
                # Reuse the cached prefix only in whole n_batch chunks: the prompt is then
                # evaluated in the same chunks as from an empty cache, so a redelivered request
                # gets bit-identical logits and the same text (a split at another token gave a
                # different email with the ~600-token campaign prompts, measured).
                self._llama.n_tokens -= self._llama.n_tokens % self._llama.n_batch
                result = self._llama.create_completion(
                    tokens, max_tokens=max_tokens, seed=seed, stop=list(stop) or None,
                    grammar=compiled, **self.sampling)
            except (ValueError, RuntimeError) as exc:  # e.g. prompt longer than n_ctx
                raise ModelError(f"generation failed: {exc}") from exc
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        choice = result["choices"][0]
        usage = result.get("usage", {})
        return Completion(text=choice["text"], prompt_tokens=int(usage.get("prompt_tokens", 0)),
                          completion_tokens=int(usage.get("completion_tokens", 0)),
                          seconds=wall, cpu_seconds=cpu,
                          finish_reason=choice.get("finish_reason") or "")

    def close(self) -> None:
        with self._lock, contextlib.suppress(Exception):  # best effort at shutdown
            self._llama.close()

    def __enter__(self) -> Generator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
