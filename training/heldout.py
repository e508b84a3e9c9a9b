"""Held-out evaluation campaigns: domains and wording the training campaigns never use.

Why: the old test campaigns were the last synthetic campaigns, built from the same category
templates as training with new numbers, so a miniature that memorized the templates looked
good on them. These briefs (training/heldout_campaigns/*.yaml) are written by hand: other
markets (cold chain, dental reminders, office occupancy, permits-to-work, kitchen waste,
irrigation, localization, accessibility, insurance claims, board portals, vibration
monitoring, customer feedback), other phrasings of value propositions, benefits and facts, and
their own pain points (the test pool), disjoint from every training pain
(tests/training/test_heldout.py checks both, the facts by 6-word shingles).

Each file holds ``campaign`` (a schemas.campaign document), ``pains`` (the problems it
addresses, as a rep types them into the CRM), ``industries`` and ``roles`` of its market.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from outreach import leadgen
from outreach.errors import DataError
from schemas.campaign import Campaign, parse_campaign

HELDOUT_DIR = Path(__file__).with_name("heldout_campaigns")
# Share of a held-out campaign's leads whose pain is one it addresses; the rest carry another
# held-out campaign's pain (a bought list is never all on target), which the teacher and the
# miniature must leave unused.
ON_TARGET = 0.7


@dataclass(frozen=True)
class HeldOut:
    campaign: Campaign
    pains: tuple[str, ...]
    industries: tuple[str, ...]
    roles: tuple[str, ...]


def _load(path: Path) -> HeldOut:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        return HeldOut(campaign=parse_campaign(doc["campaign"], source=path.name),
                       pains=tuple(doc["pains"]), industries=tuple(doc["industries"]),
                       roles=tuple(doc["roles"]))
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise DataError(f"invalid held-out campaign {path}: {exc}") from exc


@lru_cache(maxsize=4)
def load_all(directory: Path = HELDOUT_DIR) -> tuple[HeldOut, ...]:
    """Every held-out campaign, in file-name order."""
    return tuple(_load(path) for path in sorted(Path(directory).glob("*.yaml")))


def campaigns(directory: Path = HELDOUT_DIR) -> list[Campaign]:
    return [item.campaign for item in load_all(directory)]


def test_pains(directory: Path = HELDOUT_DIR) -> frozenset[str]:
    """The test pain-point pool: every held-out campaign's pains."""
    return frozenset(p for item in load_all(directory) for p in item.pains)


def addressed(campaign_id: str, directory: Path = HELDOUT_DIR) -> frozenset[str] | None:
    """The pains a held-out campaign addresses (None for any other campaign)."""
    for item in load_all(directory):
        if item.campaign.campaign_id == campaign_id:
            return frozenset(item.pains)
    return None


def leads_for(item: HeldOut, count: int, seed: int, prefix: str = "ho",
              directory: Path = HELDOUT_DIR) -> list[dict[str, Any]]:
    """International Faker leads for one held-out campaign: its market's roles and industries,
    pains from the test pool only (its own, or another held-out campaign's)."""
    key = f"{seed}:{prefix}:{item.campaign.campaign_id}".encode()
    rng = random.Random(int(hashlib.sha256(key).hexdigest()[:12], 16))
    others = sorted(test_pains(directory) - set(item.pains))
    leads = []
    for index in range(count):
        on_target = rng.random() < ON_TARGET
        lead = leadgen.make_lead(rng, index, item.campaign.campaign_id,
                                 pains=item.pains if on_target else others,
                                 industries=item.industries)
        # An English title from the campaign's market where leadgen drew a generic one.
        if lead.get("role") in leadgen.ROLES:
            lead["role"] = rng.choice(item.roles)
        lead["lead_id"] = f"{prefix}-{item.campaign.campaign_id}-{index:03d}"
        lead["created_at"] = 1_760_000_000_000  # fixed, so rows are reproducible byte for byte
        leads.append(lead)
    return leads
