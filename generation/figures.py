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


__all__ = ["figures", "invented_figures"]
