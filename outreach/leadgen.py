"""Realistic sample leads for the demo and the tests, deterministic under a seed.

The generator also plants the records a real CRM feed contains: malformed events, duplicates
(the same lead_id + campaign twice) and suppressed addresses, so the demo exercises every path.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, field
from typing import Any

FIRST_NAMES = ["Ann", "Bruno", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas",
               "Kemi", "Liam", "Maya", "Nikhil", "Olga", "Pablo", "Quinn", "Rosa", "Sven", "Tara"]
LAST_NAMES = ["Baker", "Costa", "Dubois", "Evans", "Fischer", "Garcia", "Haddad", "Ito", "Jensen",
              "Kowalski", "Larsen", "Moreau", "Novak", "Okafor", "Patel", "Rossi", "Silva"]
COMPANIES = [
    ("Northwind Logistics", "logistics", 420), ("Brightleaf Health", "healthcare", 1200),
    ("Copperline Manufacturing", "manufacturing", 850), ("Bluefin Retail", "retail", 300),
    ("Helios Energy", "energy", 2600), ("Quarry Analytics", "software", 90),
    ("Tidewater Insurance", "insurance", 1800), ("Ember Foods", "food & beverage", 240),
    ("Lumen Legal", "legal services", 60), ("Orbit Telecom", "telecommunications", 5200),
    ("Pinecrest Schools", "education", 700), ("Vantage Hotels", "hospitality", 1500),
]
ROLES = ["Head of Sales", "VP Marketing", "Operations Manager", "CTO", "Revenue Operations Lead",
         "Customer Success Director", "Founder", "Head of Growth"]
PAIN_POINTS = [
    "reps spend hours writing first-touch emails", "reply rates on cold outreach fell below 1%",
    "the SDR team cannot keep up with inbound lead volume",
    "generic templates are hurting brand perception", "outreach costs too much per meeting booked",
    "follow-ups slip when the team is busy", "personalizing emails for each segment is slow",
]
SEGMENT_BY_SIZE = [(200, "smb"), (1000, "mid_market"), (10**9, "enterprise")]


@dataclass
class LeadBatch:
    """Avro-ready lead dicts plus the planted special cases, for checking outcomes."""

    leads: list[dict[str, Any]] = field(default_factory=list)
    malformed: list[bytes] = field(default_factory=list)  # raw values for `leads.json`
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    suppressed_emails: list[str] = field(default_factory=list)


def make_lead(rng: random.Random, index: int, campaign: str) -> dict[str, Any]:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    company, industry, size = rng.choice(COMPANIES)
    domain = company.split()[0].lower() + ".example"
    segment = next(name for limit, name in SEGMENT_BY_SIZE if size < limit)
    score = rng.randint(5, 99)
    return {
        "lead_id": f"L{index:05d}", "campaign": campaign,
        "email": f"{first.lower()}.{last.lower()}{index}@{domain}",
        "first_name": first, "last_name": last, "company": company,
        "role": rng.choice(ROLES), "industry": industry, "company_size": size,
        "pain_point": rng.choice(PAIN_POINTS),
        "notes": rng.choice([None, "Met at SaaStr booth", "Downloaded the pricing guide",
                             "Asked about CRM integration"]),
        "lead_score": score, "deal_size": float(round(size * rng.uniform(20, 90), -2)),
        "segment": segment, "priority": "high" if score > 85 else "normal",
        "source": "demo-generator", "created_at": int(time.time() * 1000),
    }


def generate(count: int, seed: int = 7, campaign: str = "spring-launch",
             malformed: int = 2, duplicates: int = 2, suppressed: int = 2) -> LeadBatch:
    """``count`` valid unique leads plus the planted extras (not counted in ``count``)."""
    rng = random.Random(seed)
    batch = LeadBatch(leads=[make_lead(rng, i, campaign) for i in range(count)])
    for i in range(suppressed):
        lead = make_lead(rng, count + i, campaign)
        batch.leads.append(lead)
        batch.suppressed_emails.append(lead["email"])
    batch.duplicates = [dict(rng.choice(batch.leads[:count])) for _ in range(min(duplicates, count))]
    bad = [b'{"lead_id": "BAD1", "campaign": "x"', b'{"lead_id": "BAD2", "campaign": "x", '
           b'"email": "not-an-address", "first_name": "X", "company": "Y", "created_at": 0}',
           b"\x00\x01binary garbage", b'["not", "an", "object"]']
    batch.malformed = [bad[i % len(bad)] for i in range(malformed)]
    return batch


def to_json(lead: dict[str, Any]) -> bytes:
    return json.dumps(lead).encode()
