"""Per lead, the one or two campaign facts (proof points, case studies) that fit it best.

Why BM25 (bm25s) and not embeddings: a campaign holds a few dozen short, tagged facts, and the
lead's industry, role, pain point and notes share words with the right ones ("logistics",
"controller", "invoices"). bm25s is numpy/scipy only, so the serving path stays torch-free, and
scoring one lead against a campaign takes tens of microseconds once the campaign is indexed
(measured figures in the README, against all-MiniLM-L6-v2 on the same facts). Tags are exact
operator intent, so a tag that matches the lead's industry or role adds a boost on top.

Deterministic: ties break by the fact's position in the brief, so the same lead and campaign
version always get the same evidence (drafts record the ids, and retries reuse the prompt).
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import bm25s
import numpy as np

from schemas.campaign import Campaign, Fact

# Lead fields that describe what the lead cares about, in the order they are joined.
QUERY_FIELDS = ("industry", "role", "pain_point", "notes")
# Boosts on top of BM25 (raw BM25 over these short facts scores ~0.5-4 per matching term): an
# industry tag is the operator saying "show this to that industry", worth more than a shared
# word; a role tag a little less (titles are noisier: "Head of Finance Ops").
INDUSTRY_BOOST = 3.0
ROLE_BOOST = 2.0
# A second fact joins the first only when it scores at least this share of the first: a weak
# second fact makes the prompt longer without making the email more relevant.
SECOND_FACT_MIN_SHARE = 0.5
CACHE_SIZE = 128  # campaign versions kept indexed per process (~1 ms to index one)
_TOKEN = re.compile(r"\w+")


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens of any script; English stopwords out ("the", "of", "and")."""
    return [t for t in _TOKEN.findall(text.lower()) if t not in _STOPWORDS and len(t) > 1]


def _fact_text(fact: Fact) -> str:
    return " ".join([fact.text, fact.customer or "", *fact.industries, *fact.roles])


def _lead_text(lead: Mapping[str, Any]) -> str:
    return " ".join(str(lead.get(name) or "") for name in QUERY_FIELDS)


def _tag_hit(tags: Sequence[str], value: str) -> bool:
    """A tag matches when all its words appear among the value's words ("financial services"
    in "Financial Services & Insurance"), so "it" never matches inside "digital"."""
    words = set(tokens(value)) | set(_TOKEN.findall(value.lower()))
    return any(set(_TOKEN.findall(tag.lower())) <= words for tag in tags if tag.strip())


@dataclass(frozen=True)
class FactIndex:
    """A campaign version's facts indexed once; ``rank`` scores a lead against all of them."""

    key: tuple[str, int]
    facts: tuple[Fact, ...]
    retriever: Any  # bm25s.BM25
    vocab: dict[str, int]

    @classmethod
    def build(cls, campaign: Campaign) -> FactIndex:
        corpus = [tokens(_fact_text(fact)) for fact in campaign.facts]
        vocab: dict[str, int] = {}
        for doc in corpus:
            for token in doc:
                vocab.setdefault(token, len(vocab))
        retriever = bm25s.BM25()
        # bm25s takes (ids, vocab); an empty document keeps its slot so indices stay aligned.
        retriever.index(bm25s.tokenization.Tokenized(
            ids=[[vocab[t] for t in doc] for doc in corpus], vocab=vocab), show_progress=False)
        return cls(key=campaign.key, facts=campaign.facts, retriever=retriever, vocab=vocab)

    def scores(self, lead: Mapping[str, Any]) -> np.ndarray:
        query = [self.vocab[t] for t in tokens(_lead_text(lead)) if t in self.vocab]
        bm25 = (np.asarray(self.retriever.get_scores(query), dtype=float) if query
                else np.zeros(len(self.facts)))
        industry, role = str(lead.get("industry") or ""), str(lead.get("role") or "")
        boosts = np.array([INDUSTRY_BOOST * _tag_hit(f.industries, industry)
                           + ROLE_BOOST * _tag_hit(f.roles, role) for f in self.facts])
        return bm25 + boosts

    def rank(self, lead: Mapping[str, Any], k: int = 2) -> tuple[Fact, ...]:
        """The best ``k`` facts for ``lead`` (at least one: the brief's first fact when nothing
        matches, so every email carries one piece of evidence)."""
        scores = self.scores(lead)
        order = sorted(range(len(self.facts)), key=lambda i: (-scores[i], i))
        best = order[0]
        if scores[best] <= 0:
            return (self.facts[0],)
        picked = [best]
        for i in order[1:k]:
            if scores[i] > 0 and scores[i] >= SECOND_FACT_MIN_SHARE * scores[best]:
                picked.append(i)
        return tuple(self.facts[i] for i in picked)


class Retriever:
    """Indexes per (campaign_id, version), kept in a bounded LRU; safe across worker threads."""

    def __init__(self, cache_size: int = CACHE_SIZE) -> None:
        self._cache: OrderedDict[tuple[str, int], FactIndex] = OrderedDict()
        self._size = cache_size
        self._lock = threading.Lock()
        self.builds = 0  # how many indexes were built (a cache miss each)

    def index(self, campaign: Campaign) -> FactIndex:
        # Built under the lock: a batch engine's threads all ask for a new campaign at once, and
        # building outside it made 16 identical indexes on every worker start (seen in the
        # worker log); one index of a few dozen facts builds in milliseconds.
        with self._lock:
            found = self._cache.get(campaign.key)
            if found is None or found.facts != campaign.facts:
                found = FactIndex.build(campaign)
                self.builds += 1
                self._cache[campaign.key] = found
            self._cache.move_to_end(campaign.key)
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)
            return found

    def evidence(self, campaign: Campaign, lead: Mapping[str, Any], k: int = 2) -> tuple[Fact, ...]:
        return self.index(campaign).rank(lead, k)


_DEFAULT = Retriever()


def evidence_for(campaign: Campaign, lead: Mapping[str, Any], k: int = 2) -> tuple[Fact, ...]:
    """The 1-``k`` facts of ``campaign`` most relevant to ``lead`` (process-wide cache)."""
    return _DEFAULT.evidence(campaign, lead, k)


_STOPWORDS = frozenset("""
a an and are as at be but by for from has have in into is it its of on or our that the their
them they this to was we were will with you your who what which when how not no so than too very
can our us all any each more most other some such only own same just also about over after
""".split()) - {"it"}  # "IT" is a department; a tag "it" must still match "Head of IT"
