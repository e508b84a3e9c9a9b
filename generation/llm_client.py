"""A blocking client for any OpenAI-compatible ``/v1/chat/completions`` endpoint (a provider,
vLLM, llama.cpp's server), used by the LLM tier's worker threads.

- Concurrency: a semaphore of ``llm.concurrency`` requests in flight per process, whatever the
  number of threads calling; a hosted endpoint's rate limit is per key, not per thread.
- Timeouts: a short connect timeout (a dead host is known in seconds) and a long read timeout
  (a 160-token email from a loaded server can take a minute).
- Retries: 408/409/425/429/5xx and network errors, ``llm.max_retries`` times, with exponential
  backoff and full jitter (delay = U(0.5, 1) x min(cap, base x 2^n): many workers rejected
  together must not come back together), never sooner than a ``Retry-After`` header asks.
- When every retry failed, ``LLMUnavailable`` says the endpoint (not the request) is at fault:
  the worker holds its partition and tries again later. ``LLMRequestRejected`` (400, 413, 422)
  says the request itself cannot be served there.
- Cost: the response's ``usage`` tokens x the configured USD per million tokens.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx

from outreach.endpoints import bearer_headers
from outreach.errors import LLMRequestRejected, LLMUnavailable
from outreach.settings import LLMSettings

log = logging.getLogger(__name__)

RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
# A request the endpoint refuses for its content: retrying the same bytes cannot help.
REQUEST_FAULT_STATUS = frozenset({400, 413, 422})


@dataclass(frozen=True)
class ChatResult:
    text: str
    prompt_tokens: int
    completion_tokens: int
    seconds: float  # wall time of the successful call, retries' waits excluded
    finish_reason: str
    retries: int  # retried answers (429/5xx/network) before this one
    model: str  # the model name the endpoint reported

    def cost_usd(self, settings: LLMSettings) -> float:
        return (self.prompt_tokens * settings.usd_per_m_input
                + self.completion_tokens * settings.usd_per_m_output) / 1e6


def retry_after_s(value: str | None, now: float | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def backoff_s(settings: LLMSettings, retry: int, rng: random.Random) -> float:
    """The wait before retry number ``retry`` (1-based), with jitter."""
    ceiling = min(settings.backoff_max_s, settings.backoff_s * 2 ** (retry - 1))
    return ceiling * rng.uniform(0.5, 1.0)


class ChatClient:
    """One pooled HTTP client, shared by every worker thread of the process."""

    def __init__(self, settings: LLMSettings, stop: threading.Event | None = None) -> None:
        if not settings.base_url:
            raise LLMUnavailable("llm.base_url is not set: no endpoint for the LLM tier")
        self.settings = settings
        self._stop = stop or threading.Event()
        headers = bearer_headers(settings.api_key, settings.base_url, "llm")
        timeout = httpx.Timeout(settings.timeout_s, connect=settings.connect_timeout_s)
        limits = httpx.Limits(max_connections=settings.concurrency,
                              max_keepalive_connections=settings.concurrency)
        self._client = httpx.Client(base_url=settings.base_url.rstrip("/") + "/",
                                    headers=headers, timeout=timeout, limits=limits)
        self._slots = threading.BoundedSemaphore(settings.concurrency)
        self._rng = random.Random()
        self.retries = 0  # process total, for metrics and tests

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> ChatClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def chat(self, system: str, user: str, seed: int) -> ChatResult:
        """One completion of (system, user), retried; raises LLMUnavailable/LLMRequestRejected.

        Instructions go in the system message only; the user message holds the quoted data
        lines, so nothing a lead or campaign says can pose as an instruction.
        """
        return self._call("chat/completions", {
            "messages": [{"role": "system", "content": system},
                         {"role": "user", "content": user}]}, seed)

    def complete(self, prompt: str, seed: int, stop: tuple[str, ...] = ()) -> ChatResult:
        """A plain-text completion of ``prompt`` (a base model under the few-shot prompt)."""
        return self._call("completions", {"prompt": prompt, "stop": list(stop)}, seed)

    def _call(self, path: str, body: dict[str, Any], seed: int) -> ChatResult:
        cfg = self.settings
        payload: dict[str, Any] = {"model": cfg.model, "seed": seed,
                                   "temperature": cfg.temperature, "max_tokens": cfg.max_tokens,
                                   **body}
        error = "no attempt"
        with self._slots:
            for attempt in range(cfg.max_retries + 1):
                if attempt:
                    self.retries += 1
                started = time.perf_counter()
                try:
                    response = self._client.post(path, json=payload)
                except httpx.TransportError as exc:  # connect/read timeouts are TransportErrors
                    error, wait = f"network error: {type(exc).__name__}: {exc}", None
                else:
                    if response.status_code == 200:
                        return self._result(response, time.perf_counter() - started, attempt)
                    error = f"HTTP {response.status_code}: {response.text[:200]}"
                    if response.status_code in REQUEST_FAULT_STATUS:
                        raise LLMRequestRejected(f"endpoint refused the request: {error}")
                    if response.status_code not in RETRY_STATUS:
                        # 401/403/404: a wrong key, model or URL. Not the request's fault, so
                        # it is held like an outage until an operator fixes the settings.
                        raise LLMUnavailable(f"endpoint answered {error}")
                    wait = retry_after_s(response.headers.get("retry-after"))
                if attempt == cfg.max_retries:
                    break
                delay = backoff_s(cfg, attempt + 1, self._rng)
                if wait is not None:
                    delay = max(delay, min(wait, cfg.retry_after_max_s))
                log.info("LLM endpoint: %s; retry %d in %.2f s", error, attempt + 1, delay)
                if self._stop.wait(delay):
                    break
        raise LLMUnavailable(f"LLM endpoint failed after {attempt + 1} attempt(s): {error}")

    @staticmethod
    def _result(response: httpx.Response, seconds: float, retries: int) -> ChatResult:
        try:
            data = response.json()
            choice = data["choices"][0]
            text = (choice["message"]["content"] if "message" in choice else choice["text"]) or ""
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise LLMUnavailable(f"unexpected chat-completions answer: "
                                 f"{response.text[:200]!r}") from exc
        usage = data.get("usage") or {}
        return ChatResult(text=text, prompt_tokens=int(usage.get("prompt_tokens") or 0),
                          completion_tokens=int(usage.get("completion_tokens") or 0),
                          seconds=seconds, finish_reason=str(choice.get("finish_reason") or ""),
                          retries=retries, model=str(data.get("model") or ""))
