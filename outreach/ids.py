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
