"""Does a campaign address a lead's pain point? The prompt shows a pain only when it does.

Why: a CRM's pain-point field is often unrelated to the campaign a lead is put in ("hiring
engineers takes months" on a lead of a cold-chain sensor campaign). Glued to the product, it
reads as a claim the product solves it; a rep would leave it out and open with the lead's role,
industry or company instead. The decision is code, not the model's: ``prompt_lead`` drops an
unaddressed pain from the lead line, so neither the teacher's training prompts nor the served
prompts offer a 270M model a pain it would have to judge.

A campaign has no list of the problems it solves, so the rule reads what the model itself sees:
the value proposition, the benefits and the evidence retrieval picked for the lead. A pain
counts as addressed when at least half of its IDF-weighted content stems (crudely stemmed,
generic words out) and at least 2 of them occur in that text. Measured on 1,792 labelled
(campaign, pain) pairs (training.pain_pools, tests/training/test_relevance.py): precision
0.97-1.00, recall 0.50-0.92 by slice. Precision first: a pain used where it does not fit is a
defect a reader sees, a fitting pain left unused only costs some personalization.

The IDF table (``data/market_idf.json``) is computed from the 16 synthetic market categories
by ``training.relevance.market_idf`` and committed, so serving needs no training code; a test
checks the file still matches.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from schemas.campaign import Campaign, Fact

IDF_PATH = Path(__file__).with_name("data") / "market_idf.json"
# Share of a pain's content stems found in the campaign's visible text, and at least this many
# stems, for the pain to count as addressed (measured, see the module docstring).
THRESHOLD = 0.5
MIN_SHARED = 2
# Float slack: two of four equally weighted stems sum to 0.49999999999999994, not 0.5, and the
# rule missed "invoices pile up waiting for approval" for the invoice product.
_EPSILON = 1e-9
_WORD = re.compile(r"[a-z][a-z'-]*")
# Function words and words every B2B text shares ("team", "week", "cost"): they say nothing
# about whether a product answers a problem.
_GENERIC = frozenset("""
a an and are as at be been but by can could do does for from has have how in into is it its
keep keeps kept more most no not of on one or our out over per so still than that the their
them they this those to too up was we were what when where which who will with without you your
all any each every few many much some same other own very just only also about after before
day days week weeks month months year years quarter time times hour hours minute minutes team
teams staff people company companies business everyone nobody anyone someone new two three four
cost costs take takes taking get gets make makes need needs show shows up lot lots again run
runs still than less far going go goes rose rising rise sharply high higher low lower last first
know knows knew nobody during while open
""".split())
_SUFFIXES = ("ations", "ation", "ings", "ing", "ness", "ies", "ied", "ers", "er", "ed", "es",
             "ly", "s")


def stem(word: str) -> str:
    """A crude stem: enough for "invoices"/"invoice", "patching"/"patch", "approvals"/"approve"."""
    word = word.strip("'-")
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            word = word[:-len(suffix)]
            break
    return word.rstrip("e") if len(word) > 4 else word


def stems(text: str) -> set[str]:
    words = [w for w in _WORD.findall(text.lower().replace("-", " ")) if w not in _GENERIC]
    return {stem(w) for w in words if len(w) > 2} - {stem(w) for w in _GENERIC}


@lru_cache(maxsize=1)
def _idf() -> dict[str, float]:
    """Stem -> inverse document frequency over the market categories: a stem every market uses
    ("spend", "schedule") says little about which market a pain belongs to, a rare one
    ("invoice", "vulnerability") says a lot."""
    data = json.loads(IDF_PATH.read_text(encoding="utf-8"))
    return {str(k): float(v) for k, v in data["idf"].items()}


@lru_cache(maxsize=1)
def _unseen_weight() -> float:
    # A stem no category uses is as telling as the rarest one: log((n + 1) / 1).
    data = json.loads(IDF_PATH.read_text(encoding="utf-8"))
    return math.log(int(data["documents"]) + 1)


def weight(token: str) -> float:
    return _idf().get(token, _unseen_weight())


def visible_text(campaign: Campaign, evidence: Sequence[Fact] = ()) -> str:
    """What the miniature sees of the campaign for one lead: value proposition, benefits and
    that lead's evidence (facts outside the evidence are not in its prompt)."""
    return "\n".join([campaign.value_proposition, *campaign.benefits,
                      *(fact.text for fact in evidence)])


def overlap(pain: str, text: str) -> tuple[float, int]:
    """(IDF-weighted share of the pain's stems found in ``text``, how many were found)."""
    wanted = stems(pain)
    if not wanted:
        return 0.0, 0
    found = wanted & stems(text)
    total = sum(weight(t) for t in wanted)
    return (sum(weight(t) for t in found) / total if total else 0.0), len(found)


def passes(share: float, found: int, threshold: float = THRESHOLD,
           min_shared: int = MIN_SHARED) -> bool:
    return share >= threshold - _EPSILON and found >= min_shared


def addresses(campaign: Campaign, pain: str | None, evidence: Sequence[Fact] = ()) -> bool:
    """Whether the campaign (as the prompt shows it with ``evidence``) answers ``pain``."""
    if not pain or not pain.strip():
        return False
    share, found = overlap(pain, visible_text(campaign, evidence))
    return passes(share, found)


@lru_cache(maxsize=4096)
def pain_fits(campaign: Campaign, pain: str | None) -> bool:
    """Whether ``campaign`` addresses ``pain``, judged with the evidence retrieval picks for the
    pain alone. Not the lead's own evidence: that depends on the role and industry too (a
    wholesale VP draws the wholesale case study), and the same invoice pain then fit one lead
    and not the next. Cached: a campaign version is frozen and CRM pains repeat."""
    if not pain or not pain.strip():
        return False
    from generation.retrieval import evidence_for

    return addresses(campaign, pain, evidence_for(campaign, {"pain_point": pain}))


__all__ = ["MIN_SHARED", "pain_fits", "THRESHOLD", "addresses", "overlap", "passes", "stem", "stems",
           "visible_text", "weight"]
