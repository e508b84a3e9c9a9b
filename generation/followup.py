"""Follow-ups (sequence step > 1): the previous email in the prompt, the thread's subject kept.

The request of a follow-up (written by the sequence scheduler, sequences/handlers.py) carries
its step, the thread's subject, the previous step's body and the earlier draft ids. The prompt
gets one more data line before the cue: the step's brief from the campaign and the previous
email, JSON-quoted like every other data line (the previous body is our own text, but it was
written from untrusted lead data, so it is quoted, never read as instructions). The frame and
the checks are the first email's: the draft goes through the same parse and checks.

The served miniature was not trained on follow-ups (no follow-up examples in its data yet): it
sees the extra line but writes much like a first email. Teacher and evaluation slices for steps
2 and 3 are future work (issue 25, item 3).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from outreach.ids import prompt_hash
from schemas.campaign import Campaign

PREVIOUS_BODY_MAX_CHARS = 1200  # ~300 tokens: enough to avoid repeating it, not a second prompt
REPLY_PREFIX = "Re: "


def step_of(request: dict[str, Any]) -> int:
    return int(request.get("step") or 1)


def followup_line(request: dict[str, Any], campaign: Campaign) -> str:
    """``Follow-up: {...}`` + newline for step > 1, else "" (the first email is unchanged)."""
    step = step_of(request)
    if step <= 1:
        return ""
    steps = campaign.sequence
    brief = steps[step - 1].brief if step - 1 < len(steps) else ""
    data = {"step": step, "of": len(steps), "brief": brief,
            "previous_subject": request.get("previous_subject") or "",
            "previous_email": (request.get("previous_body") or "")[:PREVIOUS_BODY_MAX_CHARS]}
    return "Follow-up: " + json.dumps(data, ensure_ascii=False) + "\n"


def with_previous_email(prompt: Any, request: dict[str, Any], campaign: Campaign,
                        cue: str) -> Any:
    """``prompt`` (generation.prompt.Prompt) with the follow-up line inserted before its last
    ``cue``; the prompt unchanged for a first email. The static prefix is untouched, so a
    campaign's shared prefix stays shared across first emails and follow-ups."""
    line = followup_line(request, campaign)
    at = prompt.text.rfind(cue)
    if not line or at < prompt.static_chars:
        return prompt
    text = prompt.text[:at] + line + prompt.text[at:]
    return dataclasses.replace(prompt, text=text, prompt_hash=prompt_hash(text))


def thread_subject(request: dict[str, Any], subject: str) -> str:
    """A follow-up keeps the thread's subject ("Re: <first subject>"), whatever it wrote."""
    previous = (request.get("previous_subject") or "").strip()
    if step_of(request) <= 1 or not previous:
        return subject
    return previous if previous.startswith(REPLY_PREFIX) else REPLY_PREFIX + previous


def draft_fields(request: dict[str, Any]) -> dict[str, Any]:
    """The EmailDraft fields a follow-up copies from its request (threading in mail/)."""
    return {"step": step_of(request),
            "thread_draft_ids": list(request.get("thread_draft_ids") or [])}
