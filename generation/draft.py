"""Split generated text into {subject, body}, and the format checks of a draft.

The model continues a prefill ("Subject: ...\\n\\nHi Ann,\\n\\n..."), so the parser sees
``prefill + completion``. A base model often runs on past the email (a new "Lead:" block, a
second "Subject:"); everything after such a marker is trimmed, and generation.frame replaces the
greeting and sign-off. generation.checks.check_draft is the one entry point that runs these
checks with every other one; ``check`` here is one of its parts.
Every failed check is reported, not only the first, so dead letters say all that was wrong.
Limits, allowed URLs and the sender come from the request's campaign. Names are compared as
written in any script (NFC, case-folded substring), never with ASCII word-boundary regexes,
which miss "山田" or "Zoë".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from outreach.errors import DraftRejected
from outreach.settings import ChecksSettings
from outreach.untrusted_text import PHONE_RE, url_allowed
from schemas.campaign import Campaign
from generation.frame import signed_count
from generation.prompt import EXAMPLES, NAME_MAX_CHARS, STOP_SEQUENCES, clean_field, sender_name

# Where an email ends at the latest: prompt structure or a second email starting.
_TAIL_MARKERS = re.compile(r"\n\s*(?:Campaign:|Evidence:|Lead:|Email:|Subject:|###)"
                           r"|<end_of_turn>|<eos>|<start_of_turn>")
# Template leftovers a mail merge would send verbatim: [Name], {company}, {{first}}, <First Name>.
_PLACEHOLDERS = (re.compile(r"\[[^\[\]\n]{1,40}\]"), re.compile(r"\{[^{}\n]{0,40}\}"),
                 re.compile(r"<[A-Za-z][^<>\n]{0,40}>"))
_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"')\]]+", re.IGNORECASE)
# Contact details the model invents (measured: "info@granite.com", "+1 (208) 493-7867"): a
# recipient who calls or writes to them reaches a stranger.
_CONTACTS = (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), PHONE_RE)
# Prompt text that must never be mailed: the data line or the few-shot scaffolding.
_LEAKS = ("Campaign:", "Evidence:", "Lead:", "Email:", "###", '{"first_name"', '{"id"',
          "untrusted data")
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]")
REPEAT_MIN_WORDS = 5  # a repeated sentence this long is the base model looping, not style
# A run of this many words from an example's facts is copying, not coincidence: the shortest
# fact phrase worth catching, "asked about our pricing in March", has 6 words.
COPY_MIN_WORDS = 6
# 8 words said twice is one fact told twice ("One example: Patchwell covers Windows, macOS..."
# after "To put a number on it: Patchwell covers Windows, macOS..."): 7 of 40 held-out drafts of
# the campaign miniature, 0 of 124 teacher emails (2026-12-01).
REPEAT_SPAN_WORDS = 8
_WORD = re.compile(r"[\w'-]+")
# Words for the repeat check: runs between spaces and punctuation. \w leaves out combining
# marks, so "कलिता, सेनगुप्ता and सरकार" (a company name, 4 words) was 9 "words" and naming the
# company twice read as "the same fact told twice" (1 of 300 teacher emails, 2026-12-07).
_SPAN_WORD = re.compile(r"[^\s.,;:!?()\"“”]+")


def _ngrams(text: str, n: int) -> set[tuple[str, ...]]:
    words = [w.lower() for w in _WORD.findall(text)]
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


_EXAMPLE_FACTS = frozenset().union(*(_ngrams(e.facts, COPY_MIN_WORDS) for e in EXAMPLES))


@dataclass(frozen=True)
class Draft:
    """``complete`` is False when the model's text was cut off (max_tokens, or a run-on without
    a sign-off or a final sentence): the frame would otherwise sign a half sentence."""

    subject: str
    body: str
    complete: bool = True
    repairs: tuple[str, ...] = ()  # the slips generation.repair fixed in it (reports count them)

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


def parse(prefill: str, completion: str) -> Draft:
    """Split ``prefill + completion`` into subject and body as written (greeting and sign-off
    included: generation.frame.frame_draft replaces them); DraftRejected if no subject."""
    text = trim((prefill + completion).replace("\r\n", "\n"))
    first, _, rest = text.partition("\n")
    if not first.startswith("Subject:"):
        raise DraftRejected(["missing subject line"])
    return Draft(subject=first[len("Subject:"):].strip(), body=rest.strip())


def _repeated_sentence(body: str) -> str | None:
    seen: set[str] = set()
    for sentence in _SENTENCE.findall(body):
        norm = " ".join(sentence.lower().split())
        if len(norm.split()) < REPEAT_MIN_WORDS:
            continue
        if norm in seen:
            return norm
        seen.add(norm)
    words = [w.lower() for w in _SPAN_WORD.findall(body)]
    spans: set[tuple[str, ...]] = set()
    for i in range(len(words) - REPEAT_SPAN_WORDS + 1):
        span = tuple(words[i:i + REPEAT_SPAN_WORDS])
        if span in spans:  # the same fact told twice under two lead-ins
            return " ".join(span)
        spans.add(span)
    return None


def _fold(text: str) -> str:
    return unicodedata.normalize("NFC", text).casefold()


def name_used(name: str, text: str) -> bool:
    """``name`` (cleaned like the prompt shows it) appears in ``text`` as written, any script."""
    return _fold(name) in _fold(text)


def check(draft: Draft, lead: Mapping[str, Any], checks: ChecksSettings,
          campaign: Campaign) -> list[str]:
    """Every reason ``draft`` must not be sent to ``lead``; an empty list means it passes.

    Subject and body limits and allowed URLs are the campaign's (plus settings' allowed URLs,
    which an operator sets for every campaign); the sender is the campaign's.
    """
    reasons: list[str] = []
    sender = sender_name(campaign)
    subject_max = campaign.subject_max_chars
    if not draft.subject:
        reasons.append("empty subject")
    elif len(draft.subject) > subject_max:
        reasons.append(f"subject too long ({len(draft.subject)} > {subject_max} chars)")
    if draft.words < campaign.body_min_words:
        reasons.append(f"body too short ({draft.words} < {campaign.body_min_words} words)")
    elif draft.words > campaign.body_max_words:
        reasons.append(f"body too long ({draft.words} > {campaign.body_max_words} words)")
    signed = signed_count(draft.body, sender)
    if signed == 0:
        reasons.append(f"no sign-off by {sender}")
    elif signed > 1:
        reasons.append(f"{signed} sign-offs (one is written once, at the end)")
    text = f"{draft.subject}\n{draft.body}"
    for pattern in _PLACEHOLDERS:
        found = pattern.search(text)
        if found:
            reasons.append(f"placeholder left in text: {found.group(0)!r}")
    allowed = (*campaign.allowed_urls, *checks.allowed_urls)
    for url in _URL.findall(text):
        if not url_allowed(url.rstrip(".,;:!?)"), allowed):  # scheme + exact host + path
            reasons.append(f"URL not allowed: {url!r}")
    for pattern in _CONTACTS:
        found = pattern.search(text)
        if found:
            reasons.append(f"invented contact details: {found.group(0)!r}")
    # Compare with the names as the prompt showed them (cleaned and capped the same way).
    first_name = clean_field(lead.get("first_name") or "", NAME_MAX_CHARS)
    company = clean_field(lead.get("company") or "", NAME_MAX_CHARS)
    if first_name and not name_used(first_name, draft.body):
        reasons.append(f"recipient first name {first_name!r} missing")
    if company and not name_used(company, text):
        reasons.append(f"company {company!r} missing")
    leaked = [marker for marker in _LEAKS if marker.lower() in text.lower()]
    if leaked:
        reasons.append(f"prompt text leaked into the draft: {', '.join(leaked)}")
    copied = _ngrams(draft.body, COPY_MIN_WORDS) & _EXAMPLE_FACTS
    if copied:
        reasons.append(f"copies a few-shot example: {' '.join(min(copied))!r}")
    # The company as one word: "at Albin-Jantos Sp. z o.o. Sp.k." is 8 span words on its own,
    # so naming it twice read as one fact told twice (held-out quality run of 2026-12-08).
    repeated = _repeated_sentence(draft.body.replace(company, "\ue000") if company
                                  else draft.body)
    if repeated:
        reasons.append(f"repeated sentence: {repeated[:60]!r}")
    return reasons
