"""Template-written EmailDrafts for simulated A/B runs and tests (no language model involved).

Two writing styles stand in for two arms whose quality differs in ways the simulator's audience
model measures: "personalized" names the lead, the company and its pain point and asks for a
call in ~70 words; "generic" is a shorter form letter with a pushy line. Drafts carry a variant
and model id like a worker's, so the whole feedback loop runs on them unchanged.
"""

from __future__ import annotations

import time
from typing import Any

from outreach import ids

STYLES = ("personalized", "generic")
COST_USD = {"personalized": 0.00021, "generic": 0.00009}  # ~CPU-seconds x $0.04/vCPU-hour


def _body(lead: dict[str, Any], style: str) -> tuple[str, str]:
    first, company = lead["first_name"], lead["company"]
    pain = lead.get("pain_point") or "outreach takes too long"
    if style == "personalized":
        subject = f"{company[:30]}: quicker first-touch emails"  # <= 60 chars
        body = (f"Hi {first},\n\nI noticed that at {company} {pain}. Teams in "
                f"{lead.get('industry') or 'your industry'} that moved first-touch emails to small "
                f"fine-tuned models cut writing time by more than half while keeping each email "
                f"specific to the person reading it. As {lead.get('role') or 'a leader'} you "
                f"would see the drafts before anything is sent, and nothing changes in your CRM."
                f"\n\nWould a 15-minute call next week be useful to see it on your own leads?"
                f"\n\nBest,\nSam")
    else:
        subject = "Boost your sales today"
        body = (f"Hi {first},\n\nOur platform helps companies like yours send more emails. "
                "It is a guaranteed way to grow, act now while our offer lasts!!\n\nBest,\nSam")
    return subject, body


def template_draft(lead: dict[str, Any], variant: str, style: str, tier: str = "small",
                   model_id: str = "template", created_at_ms: int | None = None
                   ) -> dict[str, Any]:
    """An EmailDraft dict (schemas/avro/email_draft.avsc) for ``lead`` written in ``style``."""
    if style not in STYLES:
        raise ValueError(f"style must be one of {STYLES}")
    subject, body = _body(lead, style)
    request_id = ids.request_id(lead["lead_id"], lead["campaign"])
    model_sha = ids.prompt_hash(f"{model_id}:{style}")
    return {
        "draft_id": ids.draft_id(request_id, f"{model_id}-{variant}", model_sha),
        "request_id": request_id, "lead_id": lead["lead_id"], "campaign": lead["campaign"],
        "to_email": lead["email"], "to_name": lead["first_name"], "company": lead["company"],
        "subject": subject, "body": body, "tier": tier, "variant": variant,
        "model_id": f"{model_id}-{style}", "model_sha256": model_sha, "model_version": "1",
        "prompt_hash": ids.prompt_hash(style), "prompt_tokens": 120,
        "completion_tokens": len(body.split()) * 4 // 3, "attempts": 1, "latency_ms": 0.0,
        "lead_to_draft_ms": 0.0, "estimated_cost_usd": COST_USD[style],
        "created_at": created_at_ms or int(time.time() * 1000),
    }
