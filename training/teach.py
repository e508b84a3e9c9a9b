"""`outreach teach`: leads + brief + a teacher -> scored examples (JSONL), optionally approved.

Every example gets the rubric's scores and flags before review, so a reviewer sees them beside
the email and ``auto_approve`` (used by the committed recipe, because no human reviews here) can
approve exactly the examples with no flags and overall >= the threshold, marked "rubric-auto".
"""

from __future__ import annotations

from pathlib import Path

from training import rubric
from schemas.campaign import Campaign
from training.records import Example, write_jsonl


def score_examples(examples: list[Example], campaign: Campaign) -> None:
    for ex in examples:
        ex.rubric = rubric.score(ex.subject, ex.body, ex.lead, campaign).as_dict()


def auto_approve(examples: list[Example], min_overall: float = 0.95) -> int:
    """Approve flag-free examples scoring >= ``min_overall``; returns how many."""
    approved = 0
    for ex in examples:
        if ex.status == "pending" and not ex.rubric.get("flags") and \
                ex.rubric.get("overall", 0) >= min_overall:
            ex.status, ex.approved_by = "approved", "rubric-auto"
            approved += 1
    return approved


def save(examples: list[Example], path: Path) -> int:
    return write_jsonl(path, examples)


def offline_approved(count: int, seed: int, campaign: Campaign) -> list[Example]:
    """Offline-teacher examples for ``count`` generated leads, scored and auto-approved: the
    replay data of a retrain and the fixture data of the tests (no endpoint, ~1 s per 100)."""
    from training import leads, teacher_offline

    examples = teacher_offline.teach(leads.generated(count, seed, campaign.campaign_id),
                                     campaign)
    score_examples(examples, campaign)
    auto_approve(examples)
    return examples
