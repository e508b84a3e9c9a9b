"""The LLM tier's worker: email.requests.llm -> an OpenAI-compatible endpoint -> email.drafts.

``outreach worker --tier llm`` runs this instead of a GGUF engine. Delivery is the miniature
worker's (workers/worker.py, whose publish/commit it reuses): each outcome (draft, held draft,
dead letter) is acknowledged before its offset is committed, in offset order (InFlight), and the
draft_id is deterministic, so a crash repeats work but never drops or doubles a draft.

An endpoint that is down is not the request's fault: the call is retried (ChatClient: backoff
with jitter, Retry-After), then the request is *held*: retried every few seconds up to
``llm.hold_backoff_max_s`` apart, its offset uncommitted, until the endpoint answers or the
worker stops (then it is redelivered). While every slot waits, the consumer loop pauses its
partitions and keeps polling, so the consumer stays in its group (max.poll.interval.ms, 300 s)
without taking more work.

Budget: each call is checked against the daily cap first (outreach/budget.py); a request over
it is not sent to the endpoint but up the ladder (to review) with the reason, and counted.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from typing import Any

from confluent_kafka import Message

from outreach.budget import Budget
from outreach.errors import CampaignError, LLMRequestRejected, LLMUnavailable, SchemaError
from outreach.settings import Settings
from outreach.shutdown import stop_on_signals
from outreach.store import sync_client
from schemas.records import DeadLetter, GenerationRequest
from workers import ladder_metrics as lm
from workers import metrics
from generation.generate import Outcome
from workers.consumer_loop import ConsumerLoop
from generation.llm_client import ChatClient
from generation.llm_generate import endpoint_model, few_shot_settings, llm_draft_for_request
from generation.prompt import build_prompt
from workers.reload import EventHook
from workers.worker import Worker, WorkerStats, dead_letter

log = logging.getLogger(__name__)


class LLMWorker(Worker):
    """A Worker whose ``process`` calls the LLM endpoint instead of a local model."""

    def __init__(self, settings: Settings, stop: threading.Event,
                 on_event: EventHook | None = None) -> None:
        super().__init__(settings, models=None, on_event=on_event)  # type: ignore[arg-type]
        self.stop = stop
        self.client = ChatClient(settings.llm, stop)
        self.budget = (Budget(sync_client(settings.redis_url), settings.redis.key_prefix,
                              settings.llm.budget) if settings.redis_url else None)
        self._rng = random.Random()
        self._costs: dict[str, float] = {}  # request_id -> USD of a failed outcome's calls

    def prefill_for(self, request: GenerationRequest) -> str:
        if self.settings.llm.api == "chat":
            return ""  # a chat model writes the whole email
        try:
            return build_prompt(request["lead"], self.campaign_for(request), None,
                                few_shot_settings(self.settings)).prefill
        except CampaignError:
            return ""

    def outcome_cost(self, outcome: Outcome) -> float | None:
        return self._costs.pop(outcome.request_id, None)

    def spent_usd(self, outcome: Outcome) -> float:
        # Priced per token, failed calls included (read before outcome_cost pops it).
        if outcome.draft is not None:
            return float(outcome.draft["estimated_cost_usd"])
        return self._costs.get(outcome.request_id, 0.0)

    def process(self, msg: Message) -> Outcome | DeadLetter | None:
        """An Outcome or DeadLetter; None when stopping while the endpoint is down (the
        consumer loop then leaves the request uncommitted, for redelivery)."""
        try:
            request = self.codec.decode(msg.value(), "GenerationRequest")
        except SchemaError as exc:
            key = msg.key()
            return dead_letter(msg, exc.code, str(exc),
                               lead_id=key.decode("utf-8", "replace") if key else None)
        lead = request["lead"]
        try:
            campaign = self.campaign_for(request)
        except CampaignError as exc:
            return dead_letter(msg, exc.code, str(exc), request_id=request["request_id"],
                               lead_id=lead["lead_id"])
        if self.budget is not None:
            verdict = self.budget.check(lead["campaign"])
            if not verdict.allowed:
                self.budget.blocked(lead["campaign"])
                lm.BUDGET_BLOCKED.inc()
                return Outcome(request_id=request["request_id"], lead_id=lead["lead_id"],
                               reasons=[verdict.reason], model=endpoint_model(self.settings))
        try:
            outcome, cost = self._call_until_served(request, campaign)
        except LLMUnavailable:
            return None  # stopping: not served
        if not outcome.ok:
            self._costs[outcome.request_id] = cost
        if cost and self.budget is not None:
            self.budget.add(lead["campaign"], cost)
        metrics.observe_outcome(outcome)
        lm.LLM_COST.inc(cost)
        for c in outcome.completions:
            lm.LLM_TOKENS.labels(kind="prompt").inc(c.prompt_tokens)
            lm.LLM_TOKENS.labels(kind="completion").inc(c.completion_tokens)
        return outcome

    def _call_until_served(self, request: GenerationRequest,
                           campaign: Any) -> tuple[Outcome, float]:
        """Hold the request while the endpoint is down; LLMUnavailable only when stopping."""
        failures = 0
        while True:
            retries_before = self.client.retries
            try:
                result = llm_draft_for_request(request, self.client, self.settings, campaign)
            except LLMRequestRejected as exc:
                lm.LLM_CALLS.labels(result="refused").inc()
                return Outcome(request_id=request["request_id"],
                               lead_id=request["lead"]["lead_id"], reasons=[str(exc)],
                               model=endpoint_model(self.settings)), 0.0
            except LLMUnavailable as exc:
                lm.LLM_RETRIES.inc(self.client.retries - retries_before)
                lm.LLM_CALLS.labels(result="unavailable").inc()
                lm.LLM_UP.set(0)
                if self.stop.is_set():
                    raise
                failures += 1
                cap = self.settings.llm.hold_backoff_max_s
                delay = min(cap, 2.0 ** failures) * self._rng.uniform(0.5, 1.0)
                log.warning("LLM endpoint unavailable (%s); holding request %s, next try in "
                            "%.1f s", exc, request["request_id"], delay)
                lm.LLM_HELD.inc()
                try:
                    self.stop.wait(delay)
                finally:
                    lm.LLM_HELD.dec()
                continue
            lm.LLM_RETRIES.inc(self.client.retries - retries_before)
            lm.LLM_CALLS.labels(result="ok").inc()
            lm.LLM_UP.set(1)
            return result

    def close(self) -> None:
        self.client.close()
        super().close()


def run_llm_worker(settings: Settings, stop: threading.Event | None = None,
                   max_messages: int | None = None,
                   on_event: EventHook | None = None) -> WorkerStats:
    """Consume email.requests.llm until ``stop``, SIGTERM/SIGINT or ``max_messages``."""
    with stop_on_signals(stop, "finishing the requests in hand") as stop:
        metrics.serve(settings.worker.metrics_port)
        worker: LLMWorker | None = None
        started = time.monotonic()
        try:
            worker = LLMWorker(settings, stop, on_event)
            log.info("LLM worker on %s: %s at %s (%s API, %d in flight)", worker.topic,
                     settings.llm.model, settings.llm.base_url, settings.llm.api,
                     settings.llm.concurrency)
            ConsumerLoop(worker, stop, settings.llm.concurrency, max_messages,
                         thread_name="llm").run()
        finally:
            if worker is not None:
                worker.close()
            log.info("LLM worker stopped after %.0f s: %s", time.monotonic() - started,
                     worker.stats if worker else "not started")
    return worker.stats
