"""Does a campaign address a lead's pain point? The teacher uses a pain only when it does.

Why: the old teacher glued any pain point to any product ("hiring engineers takes months" as
the opening of a cold-chain sensor email), and the miniature learned to do the same. A campaign
has no list of the problems it solves (schemas.campaign has no such field), so the rule reads
what the miniature itself sees in its prompt: the value proposition, the benefits and the
evidence retrieval picked for the lead. A pain counts as addressed when enough of its content
words (crudely stemmed, generic words out) occur in that text.

Threshold measured on a labelled set (``labelled_pairs``: every category pain against every
synthetic campaign, labelled by whether the campaign's category lists that pain, plus the
demo pains against the example campaigns and the default brief, labelled by hand); see
``measure`` and tests/training/test_relevance.py for the figures. The threshold is set for
precision first: a pain used where it does not fit is a defect a reader sees, a fitting pain
left unused only costs some personalization.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

from schemas.campaign import Campaign, Fact

# Share of a pain's content stems found in the campaign's visible text, and at least this many
# stems, for the pain to count as addressed (measured, see the module docstring).
THRESHOLD = 0.5
MIN_SHARED = 2
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
    """Inverse document frequency of stems over the synthetic market categories (16 documents,
    fixed data): a stem every market uses ("spend", "schedule", "report") says little about
    which market a pain belongs to, a rare one ("invoice", "vulnerability") says a lot."""
    from training.campaign_synth import CATEGORIES

    docs = [stems(" ".join(c.values + c.benefits + c.pains + c.proofs + c.cases))
            for c in CATEGORIES]
    counts: dict[str, int] = {}
    for doc in docs:
        for token in doc:
            counts[token] = counts.get(token, 0) + 1
    return {token: math.log((len(docs) + 1) / (count + 1)) for token, count in counts.items()}


def weight(token: str) -> float:
    # A stem no category uses is as telling as the rarest one.
    return _idf().get(token, math.log(17))


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


def addresses(campaign: Campaign, pain: str | None, evidence: Sequence[Fact] = ()) -> bool:
    """Whether the campaign (as the prompt shows it with ``evidence``) answers ``pain``."""
    if not pain or not pain.strip():
        return False
    share, found = overlap(pain, visible_text(campaign, evidence))
    return _passes(share, found, THRESHOLD, MIN_SHARED)


# Float slack: two of four equally weighted stems sum to 0.49999999999999994, not 0.5, and the
# rule missed "invoices pile up waiting for approval" for the invoice product.
_EPSILON = 1e-9


def _passes(share: float, found: int, threshold: float, min_shared: int) -> bool:
    return share >= threshold - _EPSILON and found >= min_shared


def measure(pairs: Iterable[tuple[Campaign, str, bool]], threshold: float = THRESHOLD,
            min_shared: int = MIN_SHARED) -> dict[str, Any]:
    """Precision and recall of the rule on labelled (campaign, pain, addressed) pairs, with
    each pair's evidence picked by the worker's retrieval for a lead stating that pain."""
    from generation.retrieval import evidence_for

    tp = fp = fn = tn = 0
    false_pos: list[tuple[str, str]] = []
    for campaign, pain, label in pairs:
        evidence = evidence_for(campaign, {"pain_point": pain})
        share, found = overlap(pain, visible_text(campaign, evidence))
        guess = _passes(share, found, threshold, min_shared)
        tp += guess and label
        fp += guess and not label
        fn += label and not guess
        tn += not guess and not label
        if guess and not label:
            false_pos.append((campaign.campaign_id, pain))
    return {"tp": tp, "fp": fp, "fn": fn, "tn": tn,
            "precision": tp / max(1, tp + fp), "recall": tp / max(1, tp + fn),
            "false_positives": false_pos}
