"""The relevance rule's training side: its IDF table and its measurement.

The rule itself (does a campaign address a lead's pain point?) lives in generation.relevance,
because the served prompt applies it too (generation.prompt drops an unaddressed pain). What
stays here needs training data: the IDF table computed from the synthetic market categories
(``market_idf``, written to generation/data/market_idf.json with
``python -m training.relevance --write-idf``; a test checks the committed file matches) and
``measure``, precision and recall on labelled pairs (training.pain_pools).
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Iterable
from typing import Any

from generation.relevance import (IDF_PATH, MIN_SHARED, THRESHOLD, addresses, overlap, passes,
                                  stem, stems, visible_text)
from schemas.campaign import Campaign


def market_idf() -> dict[str, Any]:
    """Stem -> log((n + 1) / (df + 1)) over the n market categories (fixed data)."""
    from training.campaign_synth import CATEGORIES

    docs = [stems(" ".join(c.values + c.benefits + c.pains + c.proofs + c.cases))
            for c in CATEGORIES]
    counts: dict[str, int] = {}
    for doc in docs:
        for token in doc:
            counts[token] = counts.get(token, 0) + 1
    idf = {token: math.log((len(docs) + 1) / (count + 1))
           for token, count in sorted(counts.items())}
    return {"documents": len(docs), "source": "training.campaign_synth.CATEGORIES", "idf": idf}


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
        guess = passes(share, found, threshold, min_shared)
        tp += guess and label
        fp += guess and not label
        fn += label and not guess
        tn += not guess and not label
        if guess and not label:
            false_pos.append((campaign.campaign_id, pain))
    return {"tp": tp, "fp": fp, "fn": fn, "tn": tn,
            "precision": tp / max(1, tp + fp), "recall": tp / max(1, tp + fn),
            "false_positives": false_pos}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write-idf", action="store_true",
                        help=f"rewrite {IDF_PATH.name} from the market categories")
    args = parser.parse_args(argv)
    table = market_idf()
    if args.write_idf:
        IDF_PATH.parent.mkdir(parents=True, exist_ok=True)
        IDF_PATH.write_text(json.dumps(table, indent=0, sort_keys=True) + "\n", encoding="utf-8")
    print(f"{len(table['idf'])} stems over {table['documents']} categories")


if __name__ == "__main__":
    main()

__all__ = ["addresses", "market_idf", "measure", "stem", "stems"]
