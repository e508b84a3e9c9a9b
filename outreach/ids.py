"""Deterministic ids, so every consumer can de-duplicate after a redelivery (design.md)."""

from __future__ import annotations

import hashlib


def _digest(*parts: object, length: int = 24) -> str:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:length]


def request_id(lead_id: str, campaign: str, attempt: int = 0) -> str:
    return "req-" + _digest("request", lead_id, campaign, attempt)


def draft_id(request_id: str, model_id: str, model_sha256: str) -> str:
    return "drf-" + _digest("draft", request_id, model_id, model_sha256)


def prompt_hash(prompt: str) -> str:
    return hashlib.sha256(prompt.encode()).hexdigest()


def step_request_id(lead_id: str, campaign: str, step: int) -> str:
    """The request of a sequence step: step 1 is intake's request (attempt 0), so the scheduler
    recognizes it; a follow-up's id depends only on lead, campaign and step, so a scheduler
    that restarts requests the same step under the same id (and the sender de-duplicates)."""
    if step <= 1:
        return request_id(lead_id, campaign, 0)
    return "req-" + _digest("step", lead_id, campaign, step)


def crm_event_id(kind: str, *source: object) -> str:
    """A crm.updates event id derived from the event it reports, so a retry repeats it."""
    return "crm-" + _digest("crm", kind, *source)
