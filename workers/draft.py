"""Turn generated text into {subject, body} and check it before it may reach a mail sender.

The model continues a prefill ("Subject: ...\\n\\nHi Ann,\\n\\n..."), so the parser sees
``prefill + completion``. A base model often runs on past the email (a new "Lead:" block, a
second "Subject:", notes after the signature); everything after the sign-off is trimmed.
Every failed check is reported, not only the first, so dead letters say all that was wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from outreach.errors import DraftRejected
from outreach.settings import ChecksSettings
from workers.prompt import EXAMPLES, NAME_MAX_CHARS, SENDER, STOP_SEQUENCES, clean_field

# Where an email ends at the latest: prompt structure or a second email starting.
_TAIL_MARKERS = re.compile(r"\n\s*(?:Lead:|Email:|Subject:|###)|<end_of_turn>|<eos>|<start_of_turn>")
# The sign-off: the sender's name on a line of its own, after an optional closing line ("Best,",
# "Thanks for your time!") and an optional "--" signature delimiter, which the base model
# writes in ~1 of 10 drafts (measured). It is normalized to "<closing>\n<sender>".
_SIGN_OFF = re.compile(r"\n[ \t]*(?:--[ \t]*\n[ \t]*)?(?:(?P<closing>[A-Z][^\n]{0,40}[,!.])[ \t]*\n"
                       r"[ \t]*)?" + re.escape(SENDER) + r"[ \t]*(?=\n|$)")
# Template leftovers a mail merge would send verbatim: [Name], {company}, {{first}}, <First Name>.
_PLACEHOLDERS = (re.compile(r"\[[^\[\]\n]{1,40}\]"), re.compile(r"\{[^{}\n]{0,40}\}"),
                 re.compile(r"<[A-Za-z][^<>\n]{0,40}>"))
_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"')\]]+", re.IGNORECASE)
# Contact details the model invents (measured: "info@granite.com", "+1 (208) 493-7867"): a
# recipient who calls or writes to them reaches a stranger.
_CONTACTS = (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), re.compile(r"\+?\d[\d\s().-]{7,}\d"))
# Prompt text that must never be mailed: the data line or the few-shot scaffolding.
_LEAKS = ("Lead:", "Email:", "###", '{"first_name"', "untrusted data")
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]")
REPEAT_MIN_WORDS = 5  # a repeated sentence this long is the base model looping, not style
# A run of this many words from an example's facts is copying, not coincidence: the shortest
# fact phrase worth catching, "asked about our pricing in March", has 6 words.
COPY_MIN_WORDS = 6
_WORD = re.compile(r"[\w'-]+")


def _ngrams(text: str, n: int) -> set[tuple[str, ...]]:
    words = [w.lower() for w in _WORD.findall(text)]
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


_EXAMPLE_FACTS = frozenset().union(*(_ngrams(e.facts, COPY_MIN_WORDS) for e in EXAMPLES))


@dataclass(frozen=True)
class Draft:
    subject: str
    body: str

    @property
    def words(self) -> int:
        return len(self.body.split())


def trim(text: str) -> str:
    """Cut generated text at the first structural marker (a next "Lead:", a second "Subject:")."""
    for stop in STOP_SEQUENCES:  # in case the engine ran without stop sequences (or a grammar)
        if stop.strip() and stop in text[1:]:
            text = text[:text.index(stop, 1)]
    match = _TAIL_MARKERS.search(text, 1)
    if match:
        text = text[:match.start()]
    return text.strip()


def sign_off(body: str, complete: bool = True) -> str:
    """End ``body`` after its sign-off, normalized to "<closing>\\n<sender>".

    A body that ended cleanly (``complete``: a stop sequence or end of text, not max_tokens)
    on a full sentence but without a sign-off gets the fixed "Best,\\n<sender>": the sign-off is
    part of the fixed format, like the prefill. A body cut off mid-sentence gets none, so the
    check rejects it.
    """
    match = _SIGN_OFF.search("\n" + body)
    if match:
        text = body[:max(0, match.start() - 1)].rstrip()
        return f"{text}\n\n{match.group('closing') or 'Best,'}\n{SENDER}"
    if complete and body.rstrip().endswith((".", "!", "?")):
        return f"{body.rstrip()}\n\nBest,\n{SENDER}"
    return body


def parse(prefill: str, completion: str, complete: bool = True) -> Draft:
    """Split ``prefill + completion`` into subject and body; raise DraftRejected if no subject."""
    text = trim((prefill + completion).replace("\r\n", "\n"))
    first, _, rest = text.partition("\n")
    if not first.startswith("Subject:"):
        raise DraftRejected(["missing subject line"])
    return Draft(subject=first[len("Subject:"):].strip(), body=sign_off(rest.strip(), complete))


def _repeated_sentence(body: str) -> str | None:
    seen: set[str] = set()
    for sentence in _SENTENCE.findall(body):
        norm = " ".join(sentence.lower().split())
        if len(norm.split()) < REPEAT_MIN_WORDS:
            continue
        if norm in seen:
            return norm
        seen.add(norm)
    return None


def check(draft: Draft, lead: dict[str, Any], checks: ChecksSettings) -> list[str]:
    """Every reason ``draft`` must not be sent to ``lead``; an empty list means it passes."""
    reasons: list[str] = []
    if not draft.subject:
        reasons.append("empty subject")
    elif len(draft.subject) > checks.subject_max_chars:
        reasons.append(f"subject too long ({len(draft.subject)} > {checks.subject_max_chars} chars)")
    if draft.words < checks.body_min_words:
        reasons.append(f"body too short ({draft.words} < {checks.body_min_words} words)")
    elif draft.words > checks.body_max_words:
        reasons.append(f"body too long ({draft.words} > {checks.body_max_words} words)")
    if not draft.body.endswith(f"\n{SENDER}"):
        reasons.append(f"no sign-off by {SENDER} (cut off or run-on text)")
    text = f"{draft.subject}\n{draft.body}"
    for pattern in _PLACEHOLDERS:
        found = pattern.search(text)
        if found:
            reasons.append(f"placeholder left in text: {found.group(0)!r}")
    for url in _URL.findall(text):
        if not any(url.lower().startswith(prefix.lower()) for prefix in checks.allowed_urls):
            reasons.append(f"URL not allowed: {url!r}")
    for pattern in _CONTACTS:
        found = pattern.search(text)
        if found:
            reasons.append(f"invented contact details: {found.group(0)!r}")
    # Compare with the names as the prompt showed them (cleaned and capped the same way).
    first_name = clean_field(lead.get("first_name") or "", NAME_MAX_CHARS)
    company = clean_field(lead.get("company") or "", NAME_MAX_CHARS)
    if first_name and first_name.lower() not in draft.body.lower():
        reasons.append(f"recipient first name {first_name!r} missing")
    if company and company.lower() not in text.lower():
        reasons.append(f"company {company!r} missing")
    leaked = [marker for marker in _LEAKS if marker.lower() in text.lower()]
    if leaked:
        reasons.append(f"prompt text leaked into the draft: {', '.join(leaked)}")
    copied = _ngrams(draft.body, COPY_MIN_WORDS) & _EXAMPLE_FACTS
    if copied:
        reasons.append(f"copies a few-shot example: {' '.join(min(copied))!r}")
    repeated = _repeated_sentence(draft.body)
    if repeated:
        reasons.append(f"repeated sentence: {repeated[:60]!r}")
    return reasons


def parse_and_check(prefill: str, completion: str, lead: dict[str, Any],
                    checks: ChecksSettings, complete: bool = True) -> Draft:
    """The checked draft, or DraftRejected listing every failed check."""
    draft = parse(prefill, completion, complete)
    reasons = check(draft, lead, checks)
    if reasons:
        raise DraftRejected(reasons)
    return draft
