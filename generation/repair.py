"""Mechanical slips a rep fixes without thinking, fixed in code before the checks run.

Why: four attempts of the served miniature still lose leads to slips whose fix is not a
judgement: the lead's company in another casing ("OPMANS BV"), the product one letter off
("Leadline" for Ledgerline), "a HR team", "A recent result: Every approval...", and a name in
another script glued to the English word before it ("for中村通信合同会社"). On 2026-12-07 the demo
held 2 of 24 leads for a person after four attempts, one of them on "a HR" every time, and the
glued-script catches alone moved the non-Latin slice's sent rate from 95.8% to 87.5%
(docs/results/2026-12-07-miniature-v4.md). A person would send these drafts after a fix that
needs no reading; so does code, with the same rule the check uses.

Only what has exactly one right answer is repaired, from data the request holds (the lead's
fields and the campaign as written); anything else (a doubled comma that marks an empty slot,
a customer said to be the product) stays a rejection. The checks (generation.checks) still run
on the repaired text, so a repair that went wrong is caught like any other slip.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from schemas.campaign import Campaign
from generation import style_checks
from generation.prompt import NAME_MAX_CHARS, clean_field

# A boundary between a Latin letter and a letter of another script (the check's own ranges).
_OTHER = (r"\u0370-\u03ff\u0400-\u04ff\u0590-\u06ff\u0900-\u0dff\u0e00-\u0eff\u1100-\u11ff"
          r"\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af")
_LATIN_THEN_OTHER = re.compile(rf"(?<=[A-Za-z])(?=[{_OTHER}])")
_BOUNDARY = re.compile(rf"(?<=[A-Za-z])(?=[{_OTHER}])|(?<=[{_OTHER}])(?=[A-Za-z])")
_LABEL_WORD = re.compile(r"(:[ \t]+)([A-Z][a-z]*)\b")


@dataclass(frozen=True)
class Repaired:
    subject: str
    body: str
    fixes: tuple[str, ...]  # what was changed, for the worker's log and metrics


def _names(campaign: Campaign, lead: Mapping[str, Any]) -> list[str]:
    company = clean_field(lead.get("company") or "", NAME_MAX_CHARS).strip()
    return [name for name in dict.fromkeys(
        (campaign.product.strip(), campaign.sender.company.strip(), company)) if name]


def _casing(text: str, names: Iterable[str], fixes: list[str]) -> str:
    """Every case-insensitive whole-name match of a name, written as its owner writes it; the
    pattern is name_casing's (not inside a link or an address)."""
    for name in names:
        if name.lower() == name.upper():
            continue
        pattern = re.compile(r"(?<![\w/@.-])" + re.escape(name) + r"(?![\w-])(?!\.[A-Za-z])",
                             re.IGNORECASE)

        def exact(match: re.Match[str], name: str = name) -> str:
            if match.group(0) != name:
                fixes.append(f"{match.group(0)!r} -> {name!r}")
            return name

        text = pattern.sub(exact, text)
    return text


def _near_misses(text: str, campaign: Campaign, fixes: list[str]) -> str:
    """A one-word product or sender company misspelled ("Leadline"), found by the check."""
    for reason in style_checks.near_miss_names(text, campaign):
        # reason: "'Ledgerline' misspelled as 'Leadline'"
        name, word = re.findall(r"'([^']*)'", reason)[:2]
        text = re.sub(rf"(?<![\w/@.-]){re.escape(word)}(?![\w-])", name, text)
        fixes.append(f"{word!r} -> {name!r}")
    return text


def _articles(text: str, fixes: list[str]) -> str:
    """"a HR team" -> "an HR team", "an thought" -> "a thought", by article_slips' own rule."""
    def fit(match: re.Match[str]) -> str:
        wanted = style_checks.article_fix(text, match)
        if wanted is None:
            return match.group(0)
        article = match.group(1)
        wanted = wanted.capitalize() if article[0].isupper() else wanted
        fixes.append(f"{article} {match.group(2)} -> {wanted} {match.group(2)}")
        return wanted + match.group(0)[len(article):]
    return style_checks.ARTICLE.sub(fit, text)


def _label_capitals(text: str, fixes: list[str]) -> str:
    """"A recent result: Every approval" -> "A recent result: every approval"."""
    for reason in style_checks.label_capitals(text):
        quoted = reason.split(": ", 1)[1][1:-1]
        fixed = _LABEL_WORD.sub(lambda m: m.group(1) + m.group(2).lower(), quoted, count=1)
        if fixed != quoted:
            text = text.replace(quoted, fixed)
            fixes.append(f"{quoted[-30:]!r} -> lower case after the colon")
    return text


def _at_name_edge(left: str, right: str, names: tuple[str, ...]) -> bool:
    """Whether the join of ``left`` and ``right`` is at the edge of a lead's name: the
    non-Latin side starts (or ends) one of the lead's non-ASCII values as written."""
    if _LATIN_THEN_OTHER.search(left[-1:] + right[:1]):
        return any(name.startswith(right.rstrip(".,;:!?)'\"")) for name in names)
    return any(name.endswith(left.lstrip("(\"'")) for name in names)


def _unglue(text: str, lead_values: tuple[str, ...], fixes: list[str]) -> str:
    """A space between an English word and a lead's name in another script ("for中村通信合同会社"
    -> "for 中村通信合同会社"); a mixed-script word of the model's own stays for the check, and a
    value the lead itself writes mixed ("القزازstad") is left as written."""
    names = tuple(value for value in lead_values if not value.isascii())

    def spaced(match: re.Match[str]) -> str:
        word = match.group(0)
        if not names or any(word.strip(".,;:!?()\"'") in value for value in lead_values):
            return word
        parts = _BOUNDARY.split(word)
        if len(parts) == 1:
            return word
        joined = parts[0]
        for left, right in zip(parts, parts[1:]):
            joined += (" " if _at_name_edge(left, right, names) else "") + right
        if joined != word:
            fixes.append(f"{word[:30]!r} -> {joined[:31]!r}")
        return joined
    return re.sub(r"\S+", spaced, text)


def repair(subject: str, body: str, lead: Mapping[str, Any], campaign: Campaign) -> Repaired:
    """The draft's subject and body with every mechanical slip fixed (see the module doc)."""
    fixes: list[str] = []
    lead_values = tuple(clean_field(value, 400) for value in lead.values()
                        if isinstance(value, str) and value.strip())
    names = _names(campaign, lead)
    out = []
    for text in (subject, body):
        text = _casing(text, names, fixes)
        text = _near_misses(text, campaign, fixes)
        text = _articles(text, fixes)
        text = _label_capitals(text, fixes)
        text = _unglue(text, lead_values, fixes)
        out.append(text)
    return Repaired(out[0], out[1], tuple(fixes))
