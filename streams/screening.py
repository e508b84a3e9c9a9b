"""Screening a lead's text at intake: what looks like instructions, markup, links, contact data
or secrets is withheld from the prompt, and the draft is marked for review with the reason.

Rules, not a model: each rule is a pattern a reviewer can read (streams/screening_rules.py), and
every flag names the rule that fired. The model never sees a withheld field (it is removed from
the request's lead), so it cannot quote it; the text travels beside the lead in
``GenerationRequest.withheld`` only so the worker's post-check (generation/untrusted.py) can
refuse a draft that repeats it anyway. The identity fields (first_name, last_name, company)
cannot be withheld, because the email greets the recipient and names the company: a name that
carries instructions, links or secrets, or one no CRM would hold (no letter, one character
repeated, control characters, longer than the CRM's field), makes the lead a dead letter.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from typing import cast

from outreach.errors import SchemaError
from outreach.untrusted_text import (IPV4_RE, PHONE_RE, find_domains, find_emails, find_urls,
                                     normalize)
from schemas.records import Lead
from streams.screening_rules import BASE64_RE, INSTRUCTION_RULES, SECRET_RULES, triggered

FREE_TEXT_FIELDS = ("role", "industry", "pain_point", "notes")
SCREEN_CHARS = 4000
NAME_FIELDS = ("first_name", "last_name", "company")
# Longer than a CRM holds (Salesforce: FirstName 40, LastName 80, Company 255, Title 128; a
# margin above the name limits for other CRMs): a 600-character first name was drafted and sent.
MAX_CHARS = {"first_name": 100, "last_name": 100, "company": 200, "role": 200, "industry": 200}
# Controls, line and paragraph separators, zero-width space/joiners' look-alikes and bidi
# overrides: none belongs in a name (a CR/LF in a name is a header-injection attempt). ZWJ and
# ZWNJ (U+200C/D) stay allowed: Indic and Persian spelling and emoji sequences use them.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b\u200e\u200f\u202a-\u202e"
                      "\u2060-\u2064\u2066-\u2069\ufeff]")
_CONTROL_IN_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\u202a-\u202e"
                              "\u2060-\u2064\u2066-\u2069\ufeff]")  # \t \n \r are fine in notes
_LETTER = re.compile(r"[^\W\d_]")
_NOT_ALNUM = re.compile(r"[\W_]+")
_EMOJI = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff]")
# Texts up to this length are cached: picklist titles and industries and templated notes recur
# across a CRM export (leadgen: 26 roles, 24 industries, 14 pains), names mostly do not.
_CACHE_CHARS = 200


@dataclass(frozen=True)
class Screening:
    """What intake withholds from the prompt and why; empty when the lead's text is clean."""

    withheld: dict[str, str] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)

    @property
    def flagged(self) -> bool:
        return bool(self.withheld)


def flags(text: str, *, allow_domains: bool = False) -> list[str]:
    """The rules ``text`` breaks (rule names), in a fixed order; empty when it is clean.

    Only the first SCREEN_CHARS characters are read: the prompt shows at most 400 characters
    of a field (generation/prompt.py caps), so nothing past them can reach the model, and the
    rules' cost stays bounded however large a CRM field is (a 950 kB field took minutes).
    """
    text = text[:SCREEN_CHARS]
    if len(text) <= _CACHE_CHARS:
        return list(_cached_flags(text, allow_domains))
    return _flags(text, allow_domains, prefilter=True)


@lru_cache(maxsize=4096)
def _cached_flags(text: str, allow_domains: bool) -> tuple[str, ...]:
    return tuple(_flags(text, allow_domains, prefilter=True))


def full_flags(text: str, *, allow_domains: bool = False) -> list[str]:
    """``flags`` without the pre-filter or the cache: every rule runs (the tests' reference)."""
    return _flags(text[:SCREEN_CHARS], allow_domains, prefilter=False)


def _flags(text: str, allow_domains: bool, prefilter: bool) -> list[str]:
    norm = normalize(text)
    found = []
    if _CONTROL_IN_TEXT.search(text):
        found.append("invisible or control characters")
    # 91% of clean lead fields match no trigger (measured on 500 leadgen leads), and then no
    # rule can match: the ~20 patterns below cost ~60 us a field, the trigger ~2 us.
    if prefilter and not triggered(norm):
        return found
    found += [name for name, rule in INSTRUCTION_RULES if rule.search(norm)]
    found += [name for name, rule in SECRET_RULES if rule.search(norm)]
    if any(True for _ in base64_texts(norm)):
        found.append("base64 text")
    if find_urls(norm) or IPV4_RE.search(norm):
        found.append("link")
    elif not allow_domains and find_domains(norm):
        found.append("domain")
    if find_emails(norm):
        found.append("email address")
    if PHONE_RE.search(norm):
        found.append("phone number")
    return found


def base64_texts(text: str):
    """The readable texts hidden as base64 runs in ``text`` (a run decoding to binary is not
    one: long words and ids decode to noise)."""
    for match in BASE64_RE.finditer(text):
        run = match.group(0).rstrip("=")
        try:
            raw = base64.b64decode(run + "=" * (-len(run) % 4),
                                   altchars=b"-_" if ("-" in run or "_" in run) else None,
                                   validate=True)
            decoded = raw.decode("utf-8")
        except (binascii.Error, ValueError):  # not base64, or not UTF-8 text (ValueError)
            continue
        # 12+ characters, all printable, some letters: a sentence, not an id's bytes.
        if len(decoded) >= 12 and decoded.isprintable() and len(_LETTER.findall(decoded)) >= 6:
            yield decoded


def implausible(name: str, value: str) -> str | None:
    """Why ``value`` cannot be a lead's ``name`` field as a CRM holds it, or None."""
    limit = MAX_CHARS.get(name)
    if limit is not None and len(value) > limit:
        return f"longer than {limit} characters ({len(value)})"
    if _CONTROL.search(value):
        return "control or invisible characters"
    if not _LETTER.search(value):
        return "no letter"
    if name in ("first_name", "last_name") and _EMOJI.search(value):
        return "emoji"
    if _repeats(value):
        return "one character or word repeated"
    return None


def _repeats(value: str) -> bool:
    """Whether ``value`` (spaces ignored) is a unit repeated 3+ times, maybe cut mid-unit:
    "AAAA", "Acme Acme Acme Ac". Smallest period by the KMP failure function, O(n)."""
    text = "".join(value.casefold().split())
    n = len(text)
    # A period p <= n/3 uses at most p distinct characters: most names fail this C-speed test
    # ("anna": 2 distinct * 3 > 4) and skip the Python loop (7 us a company name).
    if n < 3 or 3 * len(set(text)) > n:
        return False
    fail = [0] * n
    k = 0
    for i in range(1, n):
        while k and text[i] != text[k]:
            k = fail[k - 1]
        if text[i] == text[k]:
            k += 1
        fail[i] = k
    return 3 * (n - fail[-1]) <= n


def same_company(company: str | None, sender_company: str | None) -> bool:
    """Whether the lead's company is the campaign sender's own (case, spacing and punctuation
    aside): a draft to it would be addressed to ourselves."""
    lead_key = _company_key(company or "")
    return bool(lead_key) and lead_key == _company_key(sender_company or "")


@lru_cache(maxsize=1024)  # the sender's key recurs on every lead of the campaign
def _company_key(text: str) -> str:
    return _NOT_ALNUM.sub("", unicodedata.normalize("NFKC", text).casefold())


def screen_field(name: str, value: str) -> tuple[str | None, tuple[str, ...]]:
    """(why ``value`` is implausible for field ``name`` or None, the rules it breaks)."""
    if len(value) <= _CACHE_CHARS:
        return _cached_field(name, value)
    return _screen_field(name, value)


@lru_cache(maxsize=8192)  # first names, titles, industries, templated notes recur
def _cached_field(name: str, value: str) -> tuple[str | None, tuple[str, ...]]:
    return _screen_field(name, value)


def _screen_field(name: str, value: str) -> tuple[str | None, tuple[str, ...]]:
    problem = implausible(name, value) if name in MAX_CHARS else None
    if problem:
        return problem, ()
    # A company may be a domain ("Booking.com"); a person's name or free text may not.
    return None, tuple(_flags(value[:SCREEN_CHARS], name == "company", prefilter=True))


def screen_lead(lead: Lead) -> Screening:
    """Screen ``lead``'s text. Raises SchemaError("implausible_identity") when a name or the
    company cannot be a real one, SchemaError("hostile_text") when it carries instructions,
    links or secrets."""
    odd, bad = [], []
    for name in NAME_FIELDS:
        value = lead.get(name)
        if value:
            problem, rules = screen_field(name, value)
            if problem:
                odd.append(f"{name} ({problem})")
            elif rules:
                bad.append(f"{name} ({', '.join(rules)})")
    if odd:
        raise SchemaError("implausible identity: " + "; ".join(odd), code="implausible_identity")
    if bad:
        raise SchemaError("names cannot be written from: " + "; ".join(bad), code="hostile_text")
    withheld, reasons = {}, []
    for name in FREE_TEXT_FIELDS:
        value = lead.get(name)
        if not isinstance(value, str) or not value:
            continue
        problem, rules = screen_field(name, value)
        if problem or rules:
            withheld[name] = value[:SCREEN_CHARS]  # what was screened; bounds the request
            what = f"implausible: {problem}" if problem else ", ".join(rules)
            reasons.append(f"{name} withheld: {what}")
    return Screening(withheld, reasons)


def apply(lead: Lead, screening: Screening) -> Lead:
    """The lead the prompt may see: withheld fields set to None (their schema default)."""
    if not screening.flagged:
        return lead
    # Only the optional free-text fields are withheld (FREE_TEXT_FIELDS): None is valid there.
    return cast(Lead, {**lead, **{name: None for name in screening.withheld}})
