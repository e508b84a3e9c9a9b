"""Synthetic campaigns: dozens of distinct B2B products, each a valid schemas.campaign.Campaign.

A miniature that writes for *any* campaign must see many during training: products, senders,
tones, calls to action and facts that differ from brief to brief, so it learns to copy from the
quoted campaign block rather than memorize one product. Each campaign is composed from parts
with a seeded RNG (a market category's value propositions, benefits, pains, proof-point and
case-study patterns, plus a generated brand, a Faker sender and customers, and fresh numbers),
never from one template: 16 categories x 4 value propositions x C(8,3) benefit sets x ~10 fact
patterns with their own random figures. Numbers are drawn per campaign, so a figure from
another campaign in a draft is detectable (training.rubric.foreign_facts).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml
from faker import Faker

from schemas.campaign import Campaign, parse_campaign
from training.grammar import possessive


@dataclass(frozen=True)
class Category:
    key: str
    values: tuple[str, ...]  # full sentences starting with {product}
    benefits: tuple[str, ...]  # verb phrases
    industries: tuple[str, ...]
    roles: tuple[str, ...]
    pains: tuple[str, ...]  # lead pain points (clauses) this product answers
    proofs: tuple[str, ...]  # proof-point patterns
    cases: tuple[str, ...]  # case-study patterns with {customer}


# The market data lives in YAML (synth_categories.yaml): it is data, and keeping it out of the
# code keeps this module short. Loaded once at import; the order of the file is the order of
# CATEGORIES, which generate() cycles through.
CATEGORIES_FILE = Path(__file__).with_name("synth_categories.yaml")


def load_categories(path: Path = CATEGORIES_FILE) -> tuple[Category, ...]:
    docs = yaml.safe_load(path.read_text(encoding="utf-8"))
    return tuple(Category(**{k: (tuple(v) if isinstance(v, list) else v)
                             for k, v in doc.items()}) for doc in docs)


CATEGORIES: tuple[Category, ...] = load_categories()

BRAND_HEADS = ("Arc", "Brightpath", "Cinder", "Cobalt", "Delta", "Ember", "Fernway", "Granite",
               "Helio", "Indigo", "Juniper", "Kestrel", "Lumen", "Maple", "Nimbus", "Onyx",
               "Pioneer", "Quill", "Riverton", "Sable", "Tessel", "Umber", "Vela", "Willow",
               "Yarrow", "Zenith", "Alder", "Beacon", "Cedar", "Drift", "Evergreen", "Flint")
BRAND_TAILS = ("ly", "wise", "flow", "desk", "hub", "base", "grid", "works", "loop", "pilot",
               "sense", "craft", "stack", "point", "line", "bridge")
COMPANY_FORMS = ("{brand}", "{brand}", "{brand} Inc.", "{brand} Labs", "{brand} GmbH",
                 "{brand} Ltd", "{brand} Systems", "{brand} Technologies")
TITLES = ("Account Executive", "Senior Account Executive", "Sales Director", "Partnerships Lead",
          "Customer Engagement Manager", "Regional Sales Manager", "Co-founder",
          "Head of Business Development", "Solutions Consultant")
TONES = ("friendly, concise, specific", "warm, practical, plain words", "direct, technical, no hype",
         "precise, calm, numbers first", "upbeat, brief, helpful", "consultative, respectful")
CTA_PATTERNS = ("Would a {n}-minute call {when} work for you?",
                "Would you be open to a {n}-minute walkthrough {when}?",
                "Could we find {n} minutes {when} to look at your numbers?",
                "Is a short demo {when} worth a look?",
                "Would it help to compare notes {when} for {n} minutes?",
                "Do you have {n} minutes {when} for a quick call?")
WHENS = ("next week", "this week", "on Thursday", "next Tuesday or Wednesday", "early next week")
SENDER_LOCALES = ("en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "sv_SE", "pl_PL",
                  "pt_BR", "en_IE")
CUSTOMER_LOCALES = ("en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "sv_SE")
# The repository's example briefs (campaigns/examples) stay unseen: never generated here.
RESERVED_PRODUCTS = frozenset({"Ledgerline", "Shiftwise", "Patchwell"})


@lru_cache(maxsize=None)
def _faker(locale: str) -> Faker:
    return Faker(locale)


def _numbers(rng: random.Random) -> dict[str, str]:
    n = rng.randint(6, 30)
    return {"pct": str(rng.randint(62, 97)), "pct2": str(rng.randint(12, 48)), "n": str(n),
            "m": str(rng.randint(1, max(2, n // 3))), "wk": str(rng.randint(2, 6)),
            "k": f"{rng.choice([1, 2, 3, 4, 6, 8, 12, 15, 24, 40]) * rng.choice([100, 1000]):,}",
            "small": str(rng.randint(2, 9)), "dup": str(rng.randint(11, 95)),
            "mins": str(rng.randint(5, 55)), "half": str(rng.randint(3, 9)),
            "x": str(rng.randint(2, 4))}


def _customer(rng: random.Random) -> str:
    fake = _faker(rng.choice(CUSTOMER_LOCALES))
    fake.seed_instance(rng.getrandbits(64))
    for _ in range(10):
        name = fake.company()
        if "," not in name and " and " not in name and len(name) <= 40:
            return name
    return fake.last_name() + " Group"


def _brands(rng: random.Random, count: int) -> list[str]:
    names: list[str] = []
    pairs = [(h, t) for h in BRAND_HEADS for t in BRAND_TAILS]
    rng.shuffle(pairs)
    for head, tail in pairs:
        brand = head + tail
        # At most two brands per head word, so names stay distinct at a glance.
        if brand not in RESERVED_PRODUCTS and sum(n.startswith(head) for n in names) < 2:
            names.append(brand)
        if len(names) == count:
            break
    return names


def make_campaign(rng: random.Random, category: Category, product: str, index: int) -> Campaign:
    fill = {"product": product, "product_pos": possessive(product)}
    sender_fake = _faker(rng.choice(SENDER_LOCALES))
    sender_fake.seed_instance(rng.getrandbits(64))
    facts, cases = [], []
    for number, pattern in enumerate(rng.sample(category.proofs, len(category.proofs))):
        text = pattern.format(**fill, **_numbers(rng))
        roles = rng.sample(category.roles, rng.randint(0, 2))
        facts.append({"id": f"pp-{number + 1}", "text": text, "roles": roles})
    for number, pattern in enumerate(rng.sample(category.cases, len(category.cases))):
        customer = _customer(rng)
        text = pattern.format(**fill, customer=customer, **_numbers(rng))
        cases.append({"id": f"cs-{number + 1}", "customer": customer, "text": text,
                      "industries": rng.sample(category.industries, rng.randint(1, 2)),
                      "roles": rng.sample(category.roles, rng.randint(1, 2))})
    ctas = []
    for pattern in rng.sample(CTA_PATTERNS, rng.randint(2, 3)):
        ctas.append(pattern.format(n=rng.choice([15, 20, 30]), when=rng.choice(WHENS)))
    doc = {
        "campaign_id": f"synth-{index:03d}-{category.key}", "version": rng.randint(1, 4),
        "product": product,
        "sender": {"name": f"{sender_fake.first_name()} {sender_fake.last_name()}",
                   "title": rng.choice(TITLES),
                   "company": rng.choice(COMPANY_FORMS).format(brand=product)},
        "value_proposition": rng.choice(category.values).format(**fill),
        "benefits": rng.sample(category.benefits, 3),
        "proof_points": facts, "case_studies": cases, "calls_to_action": ctas,
        "tone": rng.choice(TONES),
        "subject_max_chars": rng.choice([60, 70, 80, 90]),
        "body_min_words": rng.choice([25, 30, 35]),
        "body_max_words": rng.choice([150, 180, 200, 220]),
    }
    return parse_campaign(doc, source=doc["campaign_id"])


def generate(count: int = 56, seed: int = 0) -> list[Campaign]:
    """``count`` campaigns, cycling through the categories with distinct brands."""
    rng = random.Random(seed)
    brands = _brands(rng, count)
    return [make_campaign(rng, CATEGORIES[i % len(CATEGORIES)], brands[i], i)
            for i in range(count)]


def category_of(campaign: Campaign) -> Category | None:
    """The category a synthetic campaign was built from (by id), else None."""
    key = campaign.campaign_id.split("-", 2)[-1] if campaign.campaign_id.startswith("synth-") \
        else None
    return next((c for c in CATEGORIES if c.key == key), None)
