"""Proof points by type, each with a lead-in that fits it.

The old teacher put any fact behind any label ("A recent result: Every approval is logged with
who, when and why"): a capability quoted as if it were a result, with a capital after the
label. The campaign schema has no type field, so the type is read from the fact itself:

- story: a named customer (a case study, or a fact with ``customer``): "Hexa cut picking
  errors by 30%" stays a sentence of its own, its subject is a name, or is introduced as
  "One of our customers, Hexa, cut picking errors by 30%".
- result: an outcome with a figure ("by 23%", "in 4 days instead of 30", "from nine days to
  four", "on average", "fewer", "faster"): may follow "In practice," or "To give you a sense of
  scale,".
- capability: what the product does ("Every approval is logged ..."): may follow "In
  practice," and, when it starts with the product's name right after a sentence that named the
  product, reads "It logs ...".

A lead-in is only used when the fact's first word is an ordinary word (training.english); a
fact that starts with a name is stated as it was written.
"""

from __future__ import annotations

import random
import re
from enum import Enum

from schemas.campaign import Campaign, Fact
from training.english import lower_first, lowercase_ok, lowercase_words


class Kind(str, Enum):
    RESULT = "result"
    CAPABILITY = "capability"
    STORY = "story"


_NUMBER = r"(?:\d[\d,.]*|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|half)"
_OUTCOME = re.compile(
    rf"\d\s*%|\binstead of\b|\bfrom {_NUMBER}\b.*\bto {_NUMBER}\b|\bon average\b"
    rf"|\b(?:cut|cuts|reduced|reduces|lowered|raised|fell|falls|dropped|doubled|halved|saved"
    rf"|saves)\b[^.]*\b{_NUMBER}\b|\b{_NUMBER}\b[^.]*\b(?:fewer|faster|sooner|less|more)\b"
    rf"|\bwith (?:half|a team of|{_NUMBER})\b", re.IGNORECASE)


def kind_of(fact: Fact, campaign: Campaign) -> Kind:
    """The type of a fact, inferred from its text (and whether it names a customer)."""
    if fact.customer or fact in campaign.case_studies:
        return Kind.STORY
    return Kind.RESULT if _OUTCOME.search(fact.text) else Kind.CAPABILITY


# Lead-ins by type: a comma phrase, then the fact's own sentence continued in lower case.
LEAD_INS = {
    Kind.RESULT: ("In practice, {fact}", "To give you a sense of scale, {fact}",
                  "For a sense of what changes, {fact}"),
    Kind.CAPABILITY: ("In practice, {fact}", "Day to day, {fact}"),
    Kind.STORY: (),
}


# "{product} customers see ..." must not become "It customers see ...": the word after the
# product has to be a verb (3rd person -s, and not one of the plural nouns that follow a name).
_NOT_VERBS = frozenset("customers users clients teams partners members subscribers agents reps "
                       "owners admins managers buyers employees's".split())


def _verb_after_product(text: str, product: str) -> bool:
    if not text.startswith(product + " "):
        return False
    word = text[len(product) + 1:].split(" ", 1)[0]
    return (word.isalpha() and word.islower() and word.endswith("s")
            and not word.endswith("ss") and word not in _NOT_VERBS)


def names_of(campaign: Campaign, lead: dict) -> list[str]:
    """Names a sentence may start with that must keep their capitals."""
    return [campaign.product, campaign.sender.name, campaign.sender.company,
            *(f.customer or "" for f in campaign.facts),
            str(lead.get("company") or ""), str(lead.get("first_name") or "")]


def render(fact: Fact, campaign: Campaign, lead: dict, rng: random.Random,
           product_named: bool) -> str:
    """One sentence stating ``fact``: as written, behind a lead-in that fits its type, or with
    "It" for the product when the previous sentence named the product."""
    text = fact.text
    kind = kind_of(fact, campaign)
    options = ["plain", "plain"]
    if product_named and kind is not Kind.STORY and _verb_after_product(text, campaign.product):
        options.append("pronoun")
    vocabulary = lowercase_words(campaign.source_text())
    if LEAD_INS[kind] and lowercase_ok(text, names_of(campaign, lead), vocabulary):
        options.append("lead_in")
    if kind is Kind.STORY and fact.customer and text.startswith(fact.customer + " "):
        options.append("customer")
    choice = rng.choice(options)
    if choice == "customer":  # who the customer is, for a reader who never heard of them
        return f"One of our customers, {fact.customer},{text[len(fact.customer):]}"
    if choice == "pronoun":
        return "It " + text[len(campaign.product) + 1:]
    if choice == "lead_in":
        return rng.choice(LEAD_INS[kind]).format(fact=lower_first(text))
    return text


def industry_echo(fact: Fact, lead: dict) -> str | None:
    """"Harbor & Pine Distribution is in logistics too." when a story's industry tags contain
    the lead's industry exactly: a true, tagged link, never a guess."""
    industry = str(lead.get("industry") or "").strip()
    if not fact.customer or not industry:
        return None
    if industry.lower() not in {tag.lower() for tag in fact.industries}:
        return None
    return f"{fact.customer} is in {industry} too."
