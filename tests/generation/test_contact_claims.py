"""The earlier-contact rule set measured on labelled sentences (tests/generation/data).

contact_claims.tsv (226 sentences: 106 claims, 120 look-alikes) is the development set the rules
were written against; contact_claims_holdout.tsv (60 sentences) was written after the rules
were tuned and never used to tune them: its figures are the honest estimate.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from generation.contact_claims import claims, is_claim, recorded_kinds, unsupported_claims

DATA = Path(__file__).parent / "data"


def _labelled(name: str) -> list[tuple[int, str]]:
    rows = []
    for line in (DATA / name).read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            label, sentence = line.split("\t", 1)
            rows.append((int(label), sentence))
    return rows


def _scores(rows: list[tuple[int, str]]) -> tuple[float, float, list[str]]:
    tp = fp = fn = 0
    misses = []
    for label, sentence in rows:
        got = is_claim(sentence)
        tp += bool(label and got)
        fp += bool(got and not label)
        fn += bool(label and not got)
        if bool(got) != bool(label):
            misses.append(f"{'FP' if got else 'FN'}: {sentence}")
    return tp / max(1, tp + fp), tp / max(1, tp + fn), misses


@pytest.mark.parametrize(("name", "min_precision", "min_recall", "min_rows"), [
    ("contact_claims.tsv", 0.95, 0.95, 200),
    ("contact_claims_holdout.tsv", 0.9, 0.7, 60),
])
def test_precision_and_recall_on_labelled_sentences(name, min_precision, min_recall, min_rows):
    rows = _labelled(name)
    assert len(rows) >= min_rows
    assert 0.4 <= sum(label for label, _ in rows) / len(rows) <= 0.6  # about half claims
    precision, recall, misses = _scores(rows)
    print(f"\n{name}: {len(rows)} sentences, precision {precision:.3f}, recall {recall:.3f}")
    print("\n".join(misses))
    assert precision >= min_precision and recall >= min_recall, misses


def test_a_crm_note_makes_exactly_its_kind_true():
    met = {"notes": "met at the Dallas meetup"}
    assert recorded_kinds(met) == {"meeting"}
    assert unsupported_claims("It was good to meet you at the Dallas meetup.", met) == []
    assert unsupported_claims("Following up on my last email.", met)  # never sent one
    assert unsupported_claims("Thanks for downloading our guide.", {"notes": "downloaded x"}) == []
    assert unsupported_claims("Thanks for downloading our guide.", {"notes": None})


def test_one_reason_per_sentence_with_its_kind():
    found = claims("Thanks for visiting our site. As we discussed, it is free. Teams that "
                   "follow up win.")
    assert [kind for kind, _ in found] == ["visit", "meeting"]
