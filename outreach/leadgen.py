"""Realistic sample leads for the demo, the tests and training, deterministic under a seed.

Names, companies, cities and many job titles come from Faker's locales, so leads look like a
real international CRM: diacritics (Łukasz Zięcik), apostrophes (O'Rourke), hyphens
(Jean-Pierre), legal suffixes ("GmbH & Co. KG", "Sp. z o.o.", "S.A.", "株式会社"), names and
companies in Cyrillic, CJK, Hangul, Arabic, Devanagari, Greek, Hebrew and Thai, job titles in
other languages, and optional fields left empty. About a third of the leads are written in a
non-Latin script (LOCALES' weights).

The generator also plants the records a real CRM feed contains: malformed events, duplicates
(the same lead_id + campaign twice) and suppressed addresses, so the demo exercises every path.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from faker import Faker

# (Faker locale, weight). Weights follow a plausible international B2B pipeline; the non-Latin
# locales (ru, uk, el, zh, ja, ko, ar, hi, he, th) add up to ~30% of leads.
LOCALES: tuple[tuple[str, int], ...] = (
    ("en_US", 14), ("en_GB", 6), ("en_IE", 2), ("de_DE", 8), ("fr_FR", 6), ("es_ES", 5),
    ("pt_BR", 5), ("it_IT", 3), ("nl_NL", 3), ("pl_PL", 5), ("sv_SE", 2), ("tr_TR", 3),
    ("vi_VN", 3), ("ru_RU", 5), ("uk_UA", 3), ("el_GR", 2), ("zh_CN", 5), ("ja_JP", 5),
    ("ko_KR", 4), ("ar_AA", 3), ("hi_IN", 4), ("he_IL", 1), ("th_TH", 1))
# Locales whose Faker job titles are in their own language (en_* titles are occupations like
# "Production assistant, television", not B2B roles, so English leads use ROLES).
LOCAL_TITLE_LOCALES = frozenset({"de_DE", "fr_FR", "es_ES", "pt_BR", "pl_PL", "tr_TR", "vi_VN",
                                 "ru_RU", "uk_UA", "el_GR", "zh_CN", "ja_JP", "ko_KR", "ar_AA"})
# CRM picklist values: CRMs normalise industry and most titles to English picklists.
INDUSTRIES = ["logistics", "healthcare", "manufacturing", "retail", "energy", "software",
              "insurance", "food & beverage", "legal services", "telecommunications",
              "education", "hospitality", "financial services", "construction",
              "real estate", "automotive", "pharmaceuticals", "media", "public sector",
              "e-commerce", "agriculture", "chemicals", "consulting", "nonprofit"]
ROLES = ["Head of Sales", "VP Marketing", "Operations Manager", "CTO", "CFO", "Controller",
         "Revenue Operations Lead", "Customer Success Director", "Founder", "Head of Growth",
         "IT Director", "HR Manager", "Head of People", "Procurement Manager", "CISO",
         "Plant Manager", "Supply Chain Director", "Finance Manager", "Head of Customer Support",
         "General Counsel", "Facilities Manager", "Chief Operating Officer", "Practice Manager",
         "Head of Data", "Fleet Manager", "Store Operations Director"]
# Free-text pain points as sales reps type them (clauses, lower-case start). Training draws
# campaign-specific pains instead (training.campaign_synth); these cover the demo's products.
PAIN_POINTS = [
    "month-end close takes more than a week", "invoices pile up waiting for approval",
    "the same supplier invoice was paid twice last quarter",
    "open shifts are filled by phone every morning", "overtime keeps going over budget",
    "publishing the monthly rota takes days",
    "patching laptops falls behind every month", "auditors keep asking for patch reports",
    "critical vulnerabilities stay open for weeks",
    "reps spend hours writing first-touch emails", "reply rates on cold outreach fell below 1%",
    "follow-ups slip when the team is busy", "customer tickets wait two days for a first reply",
    "onboarding a new hire takes three weeks of paperwork",
]
NOTES = ["Met at the trade fair in {city}", "Downloaded the pricing guide",
         "Asked about the {industry} case study", "Visited the booth in {city}",
         "Asked about ERP integration", "Referred by a partner in {city}"]
SEGMENT_BY_SIZE = [(200, "smb"), (1000, "mid_market"), (10**9, "enterprise")]
DEFAULT_PAINS: tuple[str, ...] = tuple(PAIN_POINTS)


@lru_cache(maxsize=None)
def _faker(locale: str) -> Faker:
    return Faker(locale)  # ~20 ms each; built once per process and reseeded per lead


def _name_parts(fake: Faker, locale: str, rng: random.Random) -> tuple[str, str]:
    """(first, last) as a CRM holds them; some CJK leads are stored romanized."""
    if locale in ("ja_JP", "zh_CN") and rng.random() < 0.25 and \
            hasattr(fake, "first_romanized_name"):
        return fake.first_romanized_name(), fake.last_romanized_name()
    first, last = fake.first_name(), fake.last_name()
    if locale in ("es_ES", "pt_BR") and rng.random() < 0.2:
        last = f"{last}-{fake.last_name()}"  # compound surnames: García-López
    return first, last


def _city(fake: Faker) -> str:
    # Faker's it_IT builds its city list from a set, so the list's order, and with it what
    # fake.city() returns under a fixed seed, changes with PYTHONHASHSEED from one process to
    # the next (measured: 8 of 600 leads differed between two runs). Pick from a sorted copy of
    # such a list; every other locale's fake.city() is already the same in every process.
    cities = _sorted_cities(fake.locales[0]) if fake.locales == ["it_IT"] else ()
    return fake.random_element(cities) if cities else fake.city()


@lru_cache(maxsize=None)
def _sorted_cities(locale: str) -> tuple[str, ...]:
    """The locale's address provider's city list, sorted (empty if it has none)."""
    for provider in _faker(locale).get_providers():
        cities = getattr(provider, "cities", None)
        if isinstance(cities, (list, tuple)) and cities:
            return tuple(sorted(cities))
    return ()


def _ascii_email(fake: Faker, index: int) -> str:
    # ASCII address (an IDN such as ".укр" is real but many mail stacks still refuse it); the
    # index keeps addresses unique, which suppression and de-duplication rely on.
    local, _, domain = fake.ascii_email().partition("@")
    return f"{local}{index}@{domain}"

@dataclass
class LeadBatch:
    """Avro-ready lead dicts plus the planted special cases, for checking outcomes."""

    leads: list[dict[str, Any]] = field(default_factory=list)
    malformed: list[bytes] = field(default_factory=list)  # raw values for `leads.json`
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    suppressed_emails: list[str] = field(default_factory=list)


def make_lead(rng: random.Random, index: int, campaign: str,
              pains: Sequence[str] = DEFAULT_PAINS,
              industries: Sequence[str] | None = None, id_prefix: str = "L") -> dict[str, Any]:
    """One lead; ``pains``/``industries`` let a caller (training) draw them from a campaign's
    market. Optional fields are left empty at rates seen in CRM exports. The id is
    ``id_prefix`` + the index: ``generate`` puts the seed in the prefix, so two batches of
    different seeds never share a lead id (intake would drop the second as a duplicate)."""
    locale = rng.choices([loc for loc, _ in LOCALES], weights=[w for _, w in LOCALES])[0]
    fake = _faker(locale)
    fake.seed_instance(rng.getrandbits(64))
    first, last = _name_parts(fake, locale, rng)
    company = fake.company()
    industry = rng.choice(list(industries or INDUSTRIES))
    size = int(min(50_000, max(3, rng.lognormvariate(5.3, 1.3))))
    segment = next(name for limit, name in SEGMENT_BY_SIZE if size < limit)
    score = rng.randint(5, 99)
    if locale in LOCAL_TITLE_LOCALES and rng.random() < 0.35:
        role = fake.job()
    else:
        role = rng.choice(ROLES)
    notes = rng.choice(NOTES).format(city=_city(fake), industry=industry) \
        if rng.random() < 0.35 else None
    return {
        "lead_id": f"{id_prefix}{index:05d}", "campaign": campaign,
        "email": _ascii_email(fake, index),
        "first_name": first, "last_name": last if rng.random() < 0.9 else None,
        "company": company,
        "role": role if rng.random() < 0.88 else None,
        "industry": industry if rng.random() < 0.85 else None,
        "company_size": size if rng.random() < 0.8 else None,
        "pain_point": rng.choice(list(pains)) if rng.random() < 0.82 else None,
        "notes": notes,
        "lead_score": score, "deal_size": float(round(size * rng.uniform(20, 90), -2)),
        "segment": segment, "priority": "high" if score > 85 else "normal",
        "source": "demo-generator", "created_at": int(time.time() * 1000),
    }


def generate(count: int, seed: int = 7, campaign: str = "spring-launch",
             malformed: int = 2, duplicates: int = 2, suppressed: int = 2) -> LeadBatch:
    """``count`` valid unique leads plus the planted extras (not counted in ``count``)."""
    rng = random.Random(seed)
    prefix = f"L{seed}-"
    batch = LeadBatch(leads=[make_lead(rng, i, campaign, id_prefix=prefix) for i in range(count)])
    for i in range(suppressed):
        lead = make_lead(rng, count + i, campaign, id_prefix=prefix)
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
