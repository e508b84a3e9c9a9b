"""Follow-ups (sequence step > 1): the previous email in the prompt, the thread's subject kept.

The request of a follow-up (written by the sequence scheduler, sequences/handlers.py) carries
its step, the thread's subject, the previous step's body and the earlier draft ids. The prompt
gets one more data line before the cue: the step's brief from the campaign and the previous
email's opening, JSON-quoted like every other data line (the previous body is our own text,
but it was written from untrusted lead data, so it is quoted, never read as instructions). The frame and
the checks are the first email's: the draft goes through the same parse and checks.

The checks a follow-up adds (generation.checks calls ``followup_reasons`` and
``thread_makes_true``): no 6+-word sentence of the previous email again, and no claim of contact
beyond the thread itself: "my note last week" or "following up" is true of a step 2, "as we
discussed" or "thanks for your reply" is not (a reply would have stopped the sequence).

The served miniature was not trained on follow-ups (no follow-up examples in its data yet): it
sees the extra line but writes much like a first email; `outreach followup-eval` measures it
(docs/results/2026-12-07-followup-eval.md), and the teacher writes follow-up examples for the
next retrain (training/teacher_followup.py).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from typing import Any, TypedDict

from outreach.ids import prompt_hash
from schemas.campaign import Campaign
from schemas.records import GenerationRequest

# ~70 tokens. The served model has a 1,024-token context and a first email's prompt already
# takes 650-800 (measured: 1,200 characters of previous email put 4 of 6 follow-up prompts past
# the 864-token budget in `outreach demo --sequence`); the opening is what a follow-up must not
# repeat, so the quote is the previous body's first sentences.
PREVIOUS_BODY_MAX_CHARS = 280
QUOTE_FALLBACKS = (PREVIOUS_BODY_MAX_CHARS, 120, 0)  # tried in order until the prompt fits
REPLY_PREFIX = "Re: "


def step_of(request: GenerationRequest) -> int:
    return int(request.get("step") or 1)


def followup_line(request: GenerationRequest, campaign: Campaign,
                  quote_chars: int = PREVIOUS_BODY_MAX_CHARS) -> str:
    """``Follow-up: {...}`` + newline for step > 1, else "" (the first email is unchanged).
    ``quote_chars`` caps the previous email's opening (0: the step and its brief only)."""
    step = step_of(request)
    if step <= 1:
        return ""
    steps = campaign.sequence
    brief = steps[step - 1].brief if step - 1 < len(steps) else ""
    data: dict[str, Any] = {"step": step, "of": len(steps), "brief": brief}
    if quote_chars > 0:
        data["previous_email"] = opening(request.get("previous_body") or "", quote_chars)
    return "Follow-up: " + json.dumps(data, ensure_ascii=False) + "\n"


def opening(body: str, max_chars: int = PREVIOUS_BODY_MAX_CHARS) -> str:
    """The previous body without its greeting line, cut at a word within ``max_chars``."""
    lines = [line.strip() for line in body.strip().splitlines() if line.strip()]
    if lines and lines[0].endswith(","):  # "Hi Ana," is written by code, not the model
        lines = lines[1:]
    text = " ".join(lines)
    if len(text) <= max_chars:
        return text
    return text[:max_chars].rsplit(" ", 1)[0] + " ..."


def with_followup_line(text: str, request: GenerationRequest, campaign: Campaign, cue: str,
                       quote_chars: int = PREVIOUS_BODY_MAX_CHARS) -> str:
    """Prompt ``text`` with the follow-up line before its last ``cue`` (the teacher's follow-up
    examples are trained on exactly what the worker serves: training/teacher_followup.py)."""
    at = text.rfind(cue)
    if step_of(request) <= 1 or at < 0:
        return text
    # The cue ("\nEmail:\n") starts with the newline that ends the Lead line: the follow-up
    # line goes after that newline, on a line of its own ("Lead: {...}\nFollow-up: {...}\n
    # Email:"), not glued to the Lead line's JSON as it was served before 2026-12-07.
    line = followup_line(request, campaign, quote_chars)
    if cue.startswith("\n"):
        return text[:at + 1] + line + text[at + 1:]
    return text[:at] + line + text[at:]


def with_previous_email(prompt: Any, request: GenerationRequest, campaign: Campaign, cue: str,
                        fits: Callable[[str], bool] = lambda _text: True) -> Any:
    """``prompt`` (generation.prompt.Prompt) with the follow-up line inserted before its last
    ``cue``; the prompt unchanged for a first email. The static prefix is untouched, so a
    campaign's shared prefix stays shared across first emails and follow-ups.

    ``fits(text)`` says whether a prompt fits the model's budget: the longest line that fits is
    used (the full quote, a shorter one, the brief only), else none, so a follow-up is never
    refused for its own context line (the served model has 1,024 tokens a sequence)."""
    at = prompt.text.rfind(cue)
    if step_of(request) <= 1 or at < prompt.static_chars:
        return prompt
    for quote_chars in QUOTE_FALLBACKS:
        text = with_followup_line(prompt.text, request, campaign, cue, quote_chars)
        if fits(text):
            return dataclasses.replace(prompt, text=text, prompt_hash=prompt_hash(text))
    return prompt


_SENTENCE = re.compile(r"[^.!?\n]+[.!?]")
REPEAT_MIN_WORDS = 6  # shorter sentences ("Best regards.", "Worth a look?") may recur


def repeated_from_previous(request: GenerationRequest, body: str) -> list[str]:
    """Sentences of a follow-up's ``body`` (6+ words) that the previous step already said.

    A reader who gets the same paragraph twice in one thread fixes it by hand (or unsubscribes),
    so it is a check like the others: measured in `outreach demo --sequence`, the served
    miniature, never trained on follow-ups, wrote a step-2 body identical to step 1."""
    if step_of(request) <= 1:
        return []
    said = {_words(s) for s in _SENTENCE.findall(request.get("previous_body") or "")}
    # The question is exempt: the campaign's call to action ("Would you be open to a 15-minute
    # call next week?", 9 words) is asked again in every step, as sales teams write follow-ups.
    return [sentence.strip() for sentence in _SENTENCE.findall(body)
            if len(_words(sentence)) >= REPEAT_MIN_WORDS and _words(sentence) in said
            and not sentence.rstrip().endswith("?")]


def followup_reasons(body: str, request: GenerationRequest) -> list[str]:
    """A follow-up's own defects (none for a first email): a sentence of the previous email."""
    repeats = repeated_from_previous(request, body)
    return [f"repeats the previous email: {repeats[0][:80]!r}"] if repeats else []


# What the thread itself makes true in steps 2+: our own earlier email, and a second contact
# about it. Calls, meetings, promises, the recipient's replies or questions stay claims (the
# contact-claim rules in generation.contact_claims find them; this only lets these through).
_OWN_NOTE = re.compile(
    r"\b(?:my|our) (?:last|previous|earlier|recent|first|prior) (?:e-?mail|note|message)s?\b|"
    r"\bfollow(?:ing)?[- ]up\b|\bcircl(?:e|ing) back\b|\bcheck(?:ing)? back\b|"
    r"\bbump(?:ing)? this\b|\b(?:I|we) (?:sent|wrote|e-?mailed) you\b|"
    r"\b(?:reach(?:ing)? out|writ(?:e|ing)|e-?mail(?:ing)?|check(?:ing)? in|touch(?:ing)? base)"
    r"(?: (?:to|with))?(?: you)? (?:again|once more|one more time)\b|"
    r"\bin case you missed my\b|\bdid you (?:get|see|read|have a chance)\b|"
    r"\bhad a chance to (?:read|look at|review) my\b", re.IGNORECASE)


def thread_makes_true(claim: str, request: GenerationRequest) -> bool:
    """Whether ``claim`` (the words a contact-claim rule matched) only refers to our own
    earlier email of this thread, which a step 2 or 3 may: "my note last week"."""
    return step_of(request) > 1 and bool(_OWN_NOTE.search(claim))


def _words(sentence: str) -> tuple[str, ...]:
    return tuple(re.findall(r"\w+", sentence.lower()))


def thread_subject(request: GenerationRequest, subject: str) -> str:
    """A follow-up keeps the thread's subject ("Re: <first subject>"), whatever it wrote."""
    previous = (request.get("previous_subject") or "").strip()
    if step_of(request) <= 1 or not previous:
        return subject
    return previous if previous.startswith(REPLY_PREFIX) else REPLY_PREFIX + previous


class ThreadFields(TypedDict):
    """The EmailDraft fields of a follow-up's thread (a part of schemas.records.EmailDraft)."""

    step: int
    thread_draft_ids: list[str]


def draft_fields(request: GenerationRequest) -> ThreadFields:
    """The EmailDraft fields a follow-up copies from its request (threading in mail/)."""
    return {"step": step_of(request),
            "thread_draft_ids": list(request.get("thread_draft_ids") or [])}
