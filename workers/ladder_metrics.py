"""Prometheus metrics of the LLM tier and the escalation ladder (served with workers.metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

# outcome: draft (sent on), held (approval queue), escalated (next rung), dead_letter.
LADDER = Counter("outreach_ladder_outcomes_total", "Requests settled on each rung, by outcome.",
                 ["rung", "outcome"])
LLM_COST = Counter("outreach_llm_cost_usd_total", "USD the LLM endpoint's tokens cost "
                   "(usage x configured prices), failed attempts included.")
LLM_CALLS = Counter("outreach_llm_calls_total", "Completed LLM endpoint calls.", ["result"])
LLM_RETRIES = Counter("outreach_llm_retries_total", "LLM calls retried (429/5xx/network).")
LLM_TOKENS = Counter("outreach_llm_tokens_total", "Tokens billed by the LLM endpoint.", ["kind"])
LLM_HELD = Gauge("outreach_llm_held_requests", "Requests waiting for the LLM endpoint to "
                 "come back (their partitions are held).")
LLM_UP = Gauge("outreach_llm_endpoint_up", "1 when the last LLM call succeeded, else 0.")
BUDGET_BLOCKED = Counter("outreach_llm_budget_blocked_total", "LLM calls not made because the "
                         "daily budget was spent (global or the campaign's).")
