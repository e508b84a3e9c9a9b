"""The "trained" prompt: the exact text a fine-tuned miniature is trained on and served with.

A fine-tuned model needs no instructions or few-shot examples (the worker's base-model prompt is
~420 tokens of them); it needs the lead, in the same quoted form, and a cue. Format (byte-exact):

    Lead: {"first_name": "Ann", "company": "...", ...}\\n
    Email:\\n

and the model completes ``Subject: <subject>\\n\\nHi <First>,\\n\\n<body>\\n\\nBest,\\n<sender>``
then EOS. ~60-80 prompt tokens instead of ~500, so a served email costs less prompt processing
and a training step spends its compute on the email. The lead line comes from the worker's own
cleaning (workers.prompt.lead_data/lead_line), so training and serving see identical bytes.
"""

from __future__ import annotations

from typing import Any

from workers.prompt import trained_prompt_text

# The worker caps untrusted fields at settings.checks.field_max_chars (200 by default); the
# trained prompt must use the same cap or long notes would differ between training and serving.
DEFAULT_FIELD_MAX_CHARS = 200


def trained_prompt(lead: dict[str, Any], field_max_chars: int = DEFAULT_FIELD_MAX_CHARS) -> str:
    """The worker's own trained-style prompt, so training and serving see identical bytes."""
    return trained_prompt_text(lead, field_max_chars)


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
