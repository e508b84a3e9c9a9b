"""Sentences a first email must not have, found reading the served miniature's demo emails of
2026-12-08 (24 sent, after every other check):
- a sequence's closing line in a first email: "If this is not a priority for दुत्ता PLC right
  now, I will keep this one short.", "just let me know and I will close this." (4 of 24). The
  follow-up teacher writes them for step 3 ("..., I will close the file."); in a first email
  the sender closes a conversation that never started ("If it is not the right time, just let
  me know and I will see you Monday or Tuesday at the company meeting.");
- a benefit said twice (3 of 24);
- a benefit on its own as a sentence: "Patch without late-night change windows." (1 of 24).
  A benefit is a bare verb phrase that the teacher only writes after "help ...", "can" or "to".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from schemas.campaign import Campaign

_CLOSER = re.compile(r"\bI will (?:close (?:this|the file|the loop|your file)|keep this (?:one )?"
                     r"short|stop (?:writing|emailing|here))\b|\bnot a priority for .{1,60}? "
                     r"right now\b|\blet me know and I will close\b|"
                     r"\bif (?:it|this|now) is not (?:the right time|a priority)\b|"
                     r"\bone more (?:idea|thought|note|email)\b",
                     re.IGNORECASE)
# A sentence, or a line with no end mark ("Patch without late-night change windows" on a line
# of its own: the demo of 2026-12-08).
_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]|(?=\n)|$)")


def first_email_closers(body: str, request: Mapping[str, Any]) -> list[str]:
    """A sequence's closing line in a first email (step 1)."""
    if int(request.get("step") or 1) > 1:
        return []
    return [f"a closing line in a first email: {m.group(0)!r}" for m in _CLOSER.finditer(body)]


def closing_sentences(sentences: list[str], request: Mapping[str, Any]) -> list[str]:
    """Which of a first email's ``sentences`` hold a sequence's closing line."""
    if int(request.get("step") or 1) > 1:
        return []
    return [sentence for sentence in sentences if _CLOSER.search(sentence)]


def benefit_sentence(text: str, campaign: Campaign) -> str | None:
    """The benefit that ``text`` (one sentence) is, alone, or None."""
    words = text.strip().rstrip(".!").strip().lower()
    return next((b for b in campaign.benefits if b.strip().rstrip(".").lower() == words), None)


def bare_benefits(body: str, campaign: Campaign) -> list[str]:
    """A benefit written as a sentence of its own ("Patch without late-night change windows.")."""
    # A capital first: a split after a company's own full stop ("... help Junitz Warmer e.V.
    # give approvers one clear queue.") leaves a lower-case remainder, not a sentence.
    return [f"a benefit on its own as a sentence: {m.group(0).strip()!r}"
            for m in _SENTENCE.finditer(body)
            if m.group(0).strip()[:1].isupper() and benefit_sentence(m.group(0), campaign)]


def _benefit_key(benefit: str) -> str:
    return " ".join(benefit.lower().rstrip(".").split()[:5])


# Lines whose only content is a benefit (training/teacher_lines.py: VALUE_LINES, HELP_LINES,
# BRIDGE_LINES, PLAIN_BRIDGE_LINES): the second of two that say the same benefit can go whole.
_RESTATING = re.compile(r"^(?:The aim (?:is|was) to|That could|It would|With \S+(?: \S+)?, (?:your|"
                        r"you)|\S+(?: \S+)? can (?:also )?help (?:your|you)|In practice, it could)")


def restating_repeats(sentences: list[str], campaign: Campaign) -> list[str]:
    """Of ``sentences`` that say a benefit a sentence before them already said, those that are
    only a restating line ("The aim is to help you see every missing patch in one list." after
    "I think Patchwell could help your team see every missing patch in one list.": the held
    lead of the fresh-clone demo of 2026-12-08, on all four attempts)."""
    doomed = []
    for benefit in campaign.benefits:
        key = _benefit_key(benefit)
        if len(benefit.split()) < 4:
            continue
        holding = [s for s in sentences if key in " ".join(s.lower().split())]
        doomed += [s for s in holding[1:] if _RESTATING.match(s)]
    return doomed


def repeated_benefits(body: str, campaign: Campaign) -> list[str]:
    """A benefit of four or more words said twice ("... see every missing patch in one list.
    ... see every missing patch in one list, ranked by real risk."): 3 of 24 demo emails of
    2026-12-08. Seven words, one short of the repeat check's span (generation.draft)."""
    lowered = " ".join(body.lower().split())
    # Its first five words: "see every missing patch in one list" twice, once with the rest of
    # the benefit (", ranked by real risk") and once without (the final demo of 2026-12-08).
    return [f"a benefit said twice: {benefit!r}" for benefit in campaign.benefits
            if len(benefit.split()) >= 4
            and lowered.count(_benefit_key(benefit)) >= 2]


# The teacher's bridge lines point back at a sentence about the product ("The aim is to help you
# ...", "That could help ...", training/teacher_lines.BRIDGE_LINES); first in the body they
# point at nothing: "Hi Laura, The aim is to help you keep confidential papers off personal
# inboxes." (2 of 30 held-out emails read on 2026-12-08, after an opener was deleted).
_BRIDGE_START = re.compile(r"^(?:The aim is|The aim was|That could|That would|It would|For .{1,80}?"
                           r", that could)\b")


def dangling_bridge(body: str) -> list[str]:
    """A bridge line as the body's first sentence (after the greeting line)."""
    lines = [line.strip() for line in body.strip().split("\n") if line.strip()]
    first = lines[1] if len(lines) > 1 and lines[0].endswith(",") else (lines[0] if lines else "")
    return [f"the email opens on a line that points back: {first[:50]!r}"] \
        if _BRIDGE_START.match(first) else []


__all__ = ["dangling_bridge", "bare_benefits", "benefit_sentence", "closing_sentences",
           "first_email_closers", "repeated_benefits", "restating_repeats"]
