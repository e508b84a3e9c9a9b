"""Drafts for the sending tests, encoded as a worker would write them."""

from __future__ import annotations

import time
from typing import Any

from schemas.codec import AvroCodec

CODEC = AvroCodec()


def draft(tag: str, n: int, step: int = 1, campaign: str | None = None,
          email: str | None = None) -> dict[str, Any]:
    campaign = campaign or f"camp-{tag}"
    return {
        "draft_id": f"d-{tag}-{n}-{step}", "request_id": f"r-{tag}-{n}-{step}",
        "lead_id": f"lead-{tag}-{n}", "campaign": campaign,
        "to_email": email or f"p{n}@{tag}.example", "to_name": "Sam", "company": "Acme",
        "subject": "Idea for Acme", "body": f"Hi Sam,\n\nstep {step}.\n\nBest,\nPriya",
        "tier": "small", "variant": "miniature-a", "model_id": "test", "model_sha256": "0" * 64,
        "prompt_hash": "0" * 64, "prompt_tokens": 1, "completion_tokens": 1, "latency_ms": 1.0,
        "lead_to_draft_ms": 1.0, "estimated_cost_usd": 0.0,
        "created_at": int(time.time() * 1000), "from_name": "Priya",
        "from_email": "priya@ledgerline.example", "step": step}


def encoded(record: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    raw = CODEC.encode("EmailDraft", record)  # type: ignore[arg-type]
    return CODEC.decode(raw, "EmailDraft"), raw  # type: ignore[return-value]
