"""Figures a draft states that its data does not: an invented or altered number.

A number in a cold email is a claim ("24 duplicate payments", "$586 per month"); one the lead
and the campaign never gave is invented, and a reader who checks it stops trusting the rest.
Measured 2026-12-07: the LLM rung's few-shot stand-in turned the campaign's 14 into 24 and
added "$586 per month" in a draft that passed every other check
(docs/results/2026-12-07-llm-standin.md); the #24 audit found "30 days instead of 15 months".

Numbers are compared as digit strings: "4,000" and "4000" are one figure, "$1.2M" gives "1.2",
"3x" gives "3", "15-minute" gives "15". The sources are every lead field and the whole
campaign record (facts, benefits, calls to action, sender), so a figure that is anywhere in
the data may be used, including the lead's company size.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from schemas.campaign import Campaign

# A figure: digits with thousands separators and decimals. A trailing "." or "," ends the
# sentence or clause, not the number.
_FIGURE = re.compile(r"\d[\d,.]*\d|\d")


def figures(text: str) -> set[str]:
    """The figures in ``text`` as digit strings ("4,000" -> "4000", "1.5" -> "1.5")."""
    return {match.replace(",", "") for match in _FIGURE.findall(text)}


def invented_figures(text: str, lead: Mapping[str, Any], campaign: Campaign) -> list[str]:
    """A reason for each figure in ``text`` found in neither the lead nor the campaign."""
    found = figures(text)
    if not found:
        return []
    source = campaign.model_dump_json() + " " + " ".join(
        str(value) for value in lead.values() if value is not None)
    known = figures(source)
    return [f"figure not in the lead or the campaign: {figure!r}"
            for figure in sorted(found - known)]


# A sentence retelling a fact keeps the fact's own numbers: "now approves supplier invoices in
# two days instead of 16 hours" for "... in two days instead of eleven" (the demo, 2026-12-08)
# passed invented_figures because the lead's data held a 16 elsewhere. Number words count too.
_NUMBER_WORDS = frozenset("""
zero two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen
sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety
hundred thousand million billion half twice double triple dozen
""".split())
_WORD = re.compile(r"[A-Za-z]+|\d[\d,.]*\d|\d")
_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+(?=\s|$)|$)")
# Share of a fact's longer words (4+ letters) a sentence must repeat to be retelling it: the
# demo's retelling repeated 6 of 7; two facts of one campaign share at most 2 of 7.
RETELL_SHARE = 0.6


def _numbers(words: list[str]) -> set[str]:
    return {w.replace(",", "") for w in words if w[0].isdigit() or w in _NUMBER_WORDS}


def altered_facts(text: str, campaign: Campaign) -> list[str]:
    """A sentence that retells a fact of the campaign with a number the fact does not have."""
    reasons = []
    facts = [[w.lower() for w in _WORD.findall(f.text)] for f in campaign.facts]
    for sentence in _SENTENCE.findall(text):
        words = [w.lower() for w in _WORD.findall(sentence)]
        numbers = _numbers(words)
        if not numbers or not facts:
            continue
        # The fact the sentence retells is the one it repeats most of: "One of our customers,
        # Scholtz, cut stock-outs across 2 warehouses" also repeats 3 of 5 words of "Customers
        # cut stock-outs by 13% in the first 9 months", whose numbers it need not have.
        share, fact = max((_share(fact, set(words)), fact) for fact in facts)
        if share >= RETELL_SHARE and numbers - _numbers(fact):
            reasons.append(f"a fact retold with other numbers: {sentence.strip()[:80]!r}")
    return reasons


def _share(fact: list[str], words: set[str]) -> float:
    long_words = {w for w in fact if len(w) >= 4 and not w[0].isdigit()}
    return len(long_words & words) / len(long_words) if long_words else 0.0

__all__ = ["altered_facts", "figures", "invented_figures"]
