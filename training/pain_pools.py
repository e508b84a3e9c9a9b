"""Which pain points each campaign addresses: the labels behind the relevance rule and its tests.

A synthetic campaign addresses its category's pains (training/synth_categories.yaml); the
repository's example campaigns and the default brief address the demo pains labelled here by
hand; a held-out campaign lists its own (training/heldout_campaigns). The teacher never reads
these labels (it decides from the prompt's text, training.relevance); the tests and the
threshold measurement do, as ground truth.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from outreach import leadgen
from schemas.campaign import Campaign
from training import campaign_synth

# Hand labels: the demo pains (outreach.leadgen.PAIN_POINTS) each example campaign answers.
EXAMPLE_LABELS: dict[str, frozenset[str]] = {
    "ledgerline-ap-q1": frozenset({"month-end close takes more than a week",
                                   "invoices pile up waiting for approval",
                                   "the same supplier invoice was paid twice last quarter"}),
    "shiftwise-frontline": frozenset({"open shifts are filled by phone every morning",
                                      "overtime keeps going over budget",
                                      "publishing the monthly rota takes days"}),
    "patchwell-secops": frozenset({"patching laptops falls behind every month",
                                   "auditors keep asking for patch reports",
                                   "critical vulnerabilities stay open for weeks"}),
    "spring-launch": frozenset({"reps spend hours writing first-touch emails",
                                "reply rates on cold outreach fell below 1%",
                                "follow-ups slip when the team is busy"}),
}


# Cross-market labels, reviewed by hand: approval workflows are shared by accounts payable
# and spend management, so each answers the other's approval pain (the 4 "false positives" the
# relevance rule had on the category labels alone were exactly these pairs).
ALSO_ADDRESSED: dict[str, frozenset[str]] = {
    "accounts-payable": frozenset({"purchase approvals take more than a week"}),
    "spend-management": frozenset({"invoices pile up waiting for approval"}),
}


def training_pains() -> frozenset[str]:
    """Every pain string the training data can contain: the categories' and the demo's."""
    return frozenset(p for c in campaign_synth.CATEGORIES for p in c.pains) \
        | frozenset(leadgen.PAIN_POINTS)


def addressed(campaign: Campaign) -> frozenset[str] | None:
    """The pains ``campaign`` is known to address, or None when it has no labels."""
    category = campaign_synth.category_of(campaign)
    if category is not None:
        return frozenset(category.pains) | ALSO_ADDRESSED.get(category.key, frozenset())
    if campaign.campaign_id in EXAMPLE_LABELS:
        return EXAMPLE_LABELS[campaign.campaign_id]
    from training import heldout  # late: heldout loads YAML files, most callers never need it

    return heldout.addressed(campaign.campaign_id)


def labelled_pairs(campaigns: Iterable[Campaign],
                   pool: Iterable[str]) -> Iterator[tuple[Campaign, str, bool]]:
    """(campaign, pain, addressed) for every labelled campaign and every pain of ``pool``."""
    pool = sorted(set(pool))
    for campaign in campaigns:
        known = addressed(campaign)
        if known is None:
            continue
        for pain in pool:
            yield campaign, pain, pain in known
