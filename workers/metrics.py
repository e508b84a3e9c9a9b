"""Prometheus metrics of a generation worker, served on settings.worker.metrics_port."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict

from prometheus_client import REGISTRY, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily

from generation.batch_types import EngineStats
from generation.generate import Outcome

log = logging.getLogger(__name__)

DRAFTS = Counter("outreach_worker_drafts_total", "Drafts produced to email.drafts.", ["tier"])
DEAD_LETTERS = Counter("outreach_worker_dead_letters_total",
                       "Requests sent to dlq.email.requests.", ["reason"])
ATTEMPTS = Counter("outreach_worker_attempts_total",
                   "Generation attempts, by result.", ["result"])
# Buckets around the measured range: ~1-3 s for a free 270M draft on 2 cores, ~15-20 s for a
# grammar-constrained retry, up to a minute for a 3-4B model on CPU.
GENERATION_SECONDS = Histogram("outreach_worker_generation_seconds",
                               "Wall time of one generation attempt.",
                               buckets=(0.25, 0.5, 1, 2, 3, 5, 8, 13, 20, 30, 60, 120))
PROMPT_TOKENS = Counter("outreach_worker_prompt_tokens_total", "Prompt tokens evaluated.")
COMPLETION_TOKENS = Counter("outreach_worker_completion_tokens_total", "Tokens generated.")
# Hot reload (workers/reload.py). result: loaded, or why a release was refused
# (sha256_mismatch, fetch_failed, load_failed); the old model keeps serving on a refusal.
MODEL_RELOADS = Counter("outreach_worker_model_reloads_total",
                        "Releases loaded or refused by this worker.", ["tier", "slot", "result"])
# Which head each slot serves: 1 = a head cut (a vocabulary trim's output head plus the prompt's
# own tokens, generation/head_cut.py; 1.46-1.50x the emails a minute), 0 = the full model. A
# release without its cut used to be served untrimmed with nothing saying so.
MODEL_HEAD_CUT = Gauge("outreach_worker_model_head_cut",
                       "1 when the slot's model is served as a head cut, 0 untrimmed.",
                       ["tier", "slot"])
# One series per released model version (a few a week), so A/B arms can be told apart here too.
MODEL_REQUESTS = Counter("outreach_worker_model_requests_total",
                         "Requests handled, by the model slot and version that handled them.",
                         ["tier", "slot", "model_version"])

ENGINE_PREFIX = "outreach_worker_engine_"


class EngineCollector:
    """The champion's batched engine counters (generation/batch_types.py EngineStats), read
    when /metrics is scraped: outreach_worker_engine_<field>_total. Mean width is
    decoded_tokens / steps; the prefill share is prefill_seconds over wall time (the bench's
    pipeline rows read their engine profile from here). A reload starts them from zero."""

    def __init__(self) -> None:
        self._source: Callable[[], EngineStats | None] = lambda: None

    def watch(self, source: Callable[[], EngineStats | None]) -> None:
        self._source = source

    def collect(self) -> Iterator[CounterMetricFamily]:
        stats = self._source()
        if stats is None:
            return
        for name, value in asdict(stats).items():
            yield CounterMetricFamily(ENGINE_PREFIX + name, f"Batched engine: {name}.",
                                      value=value)


ENGINE = EngineCollector()
REGISTRY.register(ENGINE)

_served: set[int] = set()
_lock = threading.Lock()


def serve(port: int | None, host: str = "127.0.0.1") -> None:
    """Expose /metrics on ``host:port`` once per process (no-op when unset or already serving).
    Loopback by default: counters name campaigns and models, not for the whole network."""
    if not port:
        return
    with _lock:
        if port in _served:
            return
        start_http_server(port, addr=host)
        _served.add(port)
    log.info("metrics on http://%s:%d/metrics", host, port)


def observe_outcome(outcome: Outcome) -> None:
    for index, completion in enumerate(outcome.completions):
        GENERATION_SECONDS.observe(completion.seconds)
        PROMPT_TOKENS.inc(completion.prompt_tokens)
        COMPLETION_TOKENS.inc(completion.completion_tokens)
        last = index == len(outcome.completions) - 1
        ATTEMPTS.labels(result="accepted" if outcome.ok and last else "rejected").inc()
