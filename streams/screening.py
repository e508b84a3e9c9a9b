"""Screening a lead's free text at intake: what looks like instructions, links, contact data or
secrets is withheld from the prompt, and the draft is marked for review with the reason.

Rules, not a model: each rule is a pattern a reviewer can read, and every flag names the rule
that fired. The model never sees a withheld field (it is removed from the request's lead), so
it cannot quote it; the text travels beside the lead in ``GenerationRequest.withheld`` only so
the worker's post-check (generation/untrusted.py) can refuse a draft that repeats 6+ of its words
anyway. Names (first_name, last_name, company) cannot be withheld, because the email greets the
recipient and names the company; a name that carries instructions, links or secrets makes the
lead a dead letter instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from outreach.errors import SchemaError
from outreach.untrusted_text import (IPV4_RE, PHONE_RE, find_domains, find_emails, find_urls,
                                     normalize)

FREE_TEXT_FIELDS = ("role", "industry", "pain_point", "notes")
SCREEN_CHARS = 4000
NAME_FIELDS = ("first_name", "last_name", "company")

_I = re.IGNORECASE | re.MULTILINE
# Instruction-like text aimed at the model or at the recipient: imperatives about the output,
# role play, prompt markup, fake headers and postscripts. English plus the most common
# phrasings in German, French, Spanish, Italian and Portuguese.
INSTRUCTION_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("ignore previous instructions", re.compile(
        r"\b(?:ignore|disregard|forget|override|bypass|skip)\b.{0,40}\b(?:previous|prior|above|"
        r"earlier|all|any|these|those|your|the)\b.{0,30}\b(?:instructions?|rules?|prompts?|"
        r"guidelines?|directions?|context)\b", _I)),
    ("output directive", re.compile(
        r"\b(?:respond|reply|answer|output|print|say|write|return|repeat|include|insert|add|"
        r"append|mention|state|tell)\b[^.\n]{0,30}\b(?:only|exactly|verbatim|the word|the "
        r"phrase|the following|this (?:line|text|sentence|link|url)|word for word)\b", _I)),
    ("addressed to the model", re.compile(
        r"\b(?:you are (?:now|an?|the)\b|as an ai\b|language model|system prompt|assistant:|"
        r"new instructions?|jailbreak|developer mode|act as\b|pretend (?:to be|you)|roleplay|"
        r"do anything now)", _I)),
    ("prompt markup", re.compile(
        r"<\s*/?\s*(?:system|assistant|user|instructions?|im_start|im_end|s)\s*>|"
        r"<\|[a-z_]+\|>|\[/?INST\]|<<\s*SYS\s*>>|<(?:start|end)_of_turn>|^\s*###", _I)),
    ("fake header or postscript", re.compile(
        r"^\s*(?:subject|from|to|cc|bcc|reply-to|content-type|mime-version|x-[\w-]+|"
        r"list-unsubscribe)\s*:|\bP\.?\s?S\.?\s*[:\-]|\bpost ?script\b", _I)),
    ("instructions in another language", re.compile(
        r"\b(?:ignoriere|vergiss|antworte nur|ignorez|oubliez|r[ée]pondez uniquement|ignora|"
        r"olvida|responde solo|rispondi solo|ignore as instru[cç][õo]es|responda apenas)\b", _I)),
)
SECRET_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("credential", re.compile(
        r"\b(?:password|passwort|passwd|pwd|passcode|pin|api[_ -]?key|secret|token|"
        r"credentials?|login|mot de passe|contrase[ñn]a|senha)\b\s*(?:is\b|:|=|ist\b|est\b|es\b)\s*\S+",
        _I)),
    ("private key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
    ("cloud key", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b|\bsk-[A-Za-z0-9_-]{20,}|"
                             r"\bgh[pousr]_[A-Za-z0-9]{30,}|\bxox[abpr]-[A-Za-z0-9-]{10,}")),
    # Digits and letters mixed in one 32+ character run (lookaheads, bounded by the run itself,
    # so a long run costs linear time: an unbounded lookahead was quadratic on 950 kB).
    ("long opaque token", re.compile(r"(?<![A-Za-z0-9+/_-])(?=[A-Za-z+/_-]{0,64}\d)"
                                     r"(?=[0-9+/_-]{0,64}[A-Za-z])[A-Za-z0-9+/_-]{32,}")),
    ("card number", re.compile(r"\b(?:\d[ -]?){13,19}\b")),
)


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
    norm = normalize(text[:SCREEN_CHARS])
    found = [name for name, rule in INSTRUCTION_RULES if rule.search(norm)]
    found += [name for name, rule in SECRET_RULES if rule.search(norm)]
    if find_urls(norm) or IPV4_RE.search(norm):
        found.append("link")
    elif not allow_domains and find_domains(norm):
        found.append("domain")
    if find_emails(norm):
        found.append("email address")
    if PHONE_RE.search(norm):
        found.append("phone number")
    return found


def screen_lead(lead: dict[str, Any]) -> Screening:
    """Screen ``lead``'s free text; raise SchemaError("hostile_text") when a name is unusable."""
    bad_names = []
    for name in NAME_FIELDS:
        value = lead.get(name)
        # A company may be a domain ("Booking.com"); anything else in a name is refused.
        rules = flags(value, allow_domains=name == "company") if value else []
        if rules:
            bad_names.append(f"{name} ({', '.join(rules)})")
    if bad_names:
        raise SchemaError("names cannot be written from: " + "; ".join(bad_names),
                          code="hostile_text")
    withheld, reasons = {}, []
    for name in FREE_TEXT_FIELDS:
        value = lead.get(name)
        rules = flags(value) if isinstance(value, str) and value else []
        if rules:
            withheld[name] = value[:SCREEN_CHARS]  # what was screened; bounds the request
            reasons.append(f"{name} withheld: {', '.join(rules)}")
    return Screening(withheld, reasons)


def apply(lead: dict[str, Any], screening: Screening) -> dict[str, Any]:
    """The lead the prompt may see: withheld fields set to None (their schema default)."""
    if not screening.flagged:
        return lead
    return {**lead, **{name: None for name in screening.withheld}}
