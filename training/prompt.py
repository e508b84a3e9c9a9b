"""The "trained" prompt: the exact text a fine-tuned miniature is trained on and served with.

A fine-tuned model needs no instructions or few-shot examples; it needs the campaign, the
evidence retrieval picked for the lead, and the lead, in the same quoted form, and a cue
(generation.prompt builds it, byte-exact):

    Campaign: {"product": ..., "sender": {...}, ...}\n
    Evidence: [{"id": ..., "text": ...}]\n
    Lead: {"first_name": "Ann", "company": "...", ...}\n
    Email:\n

and the model completes ``Subject: <subject>\n\nHi <First>,\n\n<body>\n\nBest,\n<sender>``
then EOS. The lines come from the worker's own cleaning and retrieval, so training and serving
see identical bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from schemas.campaign import Campaign, Fact
from generation.prompt import trained_prompt_text
from generation.retrieval import evidence_for

# The worker caps untrusted fields at settings.checks.field_max_chars (200 by default); the
# trained prompt must use the same cap or long notes would differ between training and serving.
DEFAULT_FIELD_MAX_CHARS = 200


def trained_prompt(lead: dict[str, Any], campaign: Campaign,
                   evidence: Sequence[Fact] | None = None,
                   field_max_chars: int = DEFAULT_FIELD_MAX_CHARS) -> str:
    """The worker's own trained-style prompt, so training and serving see identical bytes;
    ``evidence`` None = the facts the worker's retrieval picks for this lead."""
    if evidence is None:
        evidence = evidence_for(campaign, lead)
    return trained_prompt_text(lead, campaign, evidence, field_max_chars)


def email_text(subject: str, body: str) -> str:
    """The completion a model is trained to write; the worker parses it back with prefill ""."""
    return f"Subject: {subject.strip()}\n\n{body.strip()}"


def split_email(text: str) -> tuple[str, str]:
    """Inverse of email_text for well-formed text; a missing subject gives ("", text)."""
    text = text.replace("\r\n", "\n").strip()
    first, _, rest = text.partition("\n")
    if not first.startswith("Subject:"):
        return "", text
    return first[len("Subject:"):].strip(), rest.strip()
