"""The offline teacher: rule and template based, no network, no model.

Clearly labelled (teacher name ``offline-templates-v2`` on every example) so its examples are
never mistaken for an LLM teacher's. Grounded by construction: every slot is filled from the
lead, the campaign or the evidence retrieval picked for the lead (the same facts the miniature
sees in its prompt), never invented. Grammatical by rule (training.grammar): a/an by sound
("an IT team", "a CFO"), possessives only where they read well ("Labs'", never "株式会社X's"
or "GmbH & Co. KG's"), no doubled words; names are greeted exactly as the CRM wrote them.
Varied so a miniature learns to copy from its prompt, not one string: 5 subject x 4 opening x
3 value x 4 evidence x 3 benefit x 4 sign-off families, >2,000 skeletons before the lead's and
the campaign's own text, and a seeded RNG per lead makes each run reproducible.
"""

from __future__ import annotations

import hashlib
import random
import re
import time
from collections.abc import Sequence
from typing import Any

from schemas.campaign import Campaign, Fact
from training.grammar import article, fix_doubled_words, possessive, possessive_ok, with_article
from training.records import Example, example_id
from generation.prompt import NAME_MAX_CHARS, clean_field, sender_name
from generation.retrieval import evidence_for

TEACHER_NAME = "offline-templates-v2"

SUBJECTS = (
    "A quick idea for {company}",
    "{first_name}, an idea to {benefit}",
    "{product} for {company}",
    "Idea for {company_pos} {team}",
    "{first_name}, a thought for {company}",
)
OPENINGS_WITH_PAIN = (
    "I noticed that at {company}, {pain}.",
    "As {role_a} at {company}, you may know this one well: {pain}.",
    "From what I understand, at {company} {pain}.",
    "Many {industry} teams tell us that {pain}, and I suspect {company} sees the same.",
)
OPENINGS_WITHOUT_PAIN = (
    "I am reaching out because I have an idea for the {team} at {company}.",
    "I wanted to share a short idea with you and the {team} at {company}.",
)
# CRM note prefixes the teacher turns into a sentence; any other note is never paraphrased
# (free text could be misread as a claim).
NOTE_LINES = (
    ("met at ", "It was good to meet you at {rest}."),
    ("visited the booth in ", "Thanks for visiting our booth in {rest}."),
    ("downloaded ", "Thanks for downloading {rest}."),
    ("asked about ", "You asked about {rest}, so I will keep this short."),
    ("referred by a partner in ", "A partner of ours in {rest} suggested I reach out."),
)
VALUES = ("{value}", "{value}", "With {product}, you can {benefit}.")
EVIDENCE_LEADS = ("{fact}", "One example: {fact}", "To put a number on it: {fact}",
                  "A recent result: {fact}")
BENEFIT_LINES = (
    "For {team_a} like yours, that could mean you {benefit}.",
    "The goal is simple: help you {benefit}.",
    "It would let your {team} {benefit}.",
)
SIGN_OFFS = ("Best,", "Best regards,", "Thanks,", "Kind regards,")
# Role keyword (English, lower-case word) -> the team it leads. "IT"/"HR" are matched as written.
TEAM_BY_ROLE = (("cfo", "finance team"), ("controller", "finance team"),
                ("finance", "finance team"), ("accounts", "finance team"), ("it", "IT team"),
                ("cto", "engineering team"), ("ciso", "security team"),
                ("security", "security team"), ("data", "data team"), ("hr", "HR team"),
                ("people", "people team"), ("talent", "talent team"),
                ("operations", "operations team"), ("coo", "operations team"),
                ("operating", "operations team"), ("sales", "sales team"),
                ("revenue", "revenue team"), ("marketing", "marketing team"),
                ("growth", "growth team"), ("support", "support team"),
                ("success", "customer success team"), ("procurement", "procurement team"),
                ("supply", "supply chain team"), ("fleet", "fleet team"),
                ("facilities", "facilities team"), ("counsel", "legal team"),
                ("legal", "legal team"), ("plant", "plant team"), ("quality", "quality team"),
                ("practice", "practice team"), ("store", "store team"))
# Words that mark an English job title; other titles ("Leiter Vertrieb", "営業部長") are not
# put into an English sentence frame ("As a ... at").
_ENGLISH_TITLE = re.compile(r"\b(head|vp|manager|director|chief|lead|officer|controller|owner|"
                            r"founder|partner|cfo|cto|ciso|coo|counsel|president)\b", re.I)


# "Souza Ltda." ending a sentence: one period, not two (an ellipsis stays).
_DOUBLE_PERIOD = re.compile(r"(?<!\.)\.\.(?!\.)")


def team_for(role: str | None) -> str:
    words = re.findall(r"[A-Za-z]+", role or "")
    # "IT" and "HR" count only in capitals: "it" is a pronoun, never a department.
    keys = {w.lower() for w in words if w.lower() not in ("it", "hr") or w in ("IT", "HR")}
    return next((team for key, team in TEAM_BY_ROLE if key in keys), "team")


def note_line(notes: str | None) -> str | None:
    if not notes:
        return None
    text = notes.strip().rstrip(".")
    for prefix, template in NOTE_LINES:
        if text.lower().startswith(prefix):
            rest = text[len(prefix):]
            if prefix == "met at " and not rest.lower().startswith("the "):
                rest = "the " + rest
            return template.format(rest=rest)
    return None


def _lower_first(text: str) -> str:
    """Lower-case a pain point's first letter unless it is an acronym ("SDR team...")."""
    return text[:1].lower() + text[1:] if text[:2] != text[:2].upper() else text


def _slots(lead: dict[str, Any], campaign: Campaign) -> dict[str, str]:
    first = clean_field(lead.get("first_name") or "", NAME_MAX_CHARS) or "there"
    company = clean_field(lead.get("company") or "", NAME_MAX_CHARS) or "your company"
    role = clean_field(lead.get("role") or "", 80)
    team = team_for(role)
    return {"first_name": first, "company": company, "role": role, "team": team,
            "team_a": with_article(team), "role_a": with_article(role) if role else "",
            "industry": clean_field(lead.get("industry") or "", 60),
            "pain": _lower_first(clean_field(lead.get("pain_point") or "", 200).rstrip(".")),
            "company_pos": possessive(company), "product": campaign.product,
            "value": campaign.value_proposition}


def _subject(rng: random.Random, slots: dict[str, str], benefit: str, limit: int) -> str:
    options = [s for s in SUBJECTS if "{company_pos}" not in s or (
        possessive_ok(slots["company"]) and slots["team"] != "team")]
    subject = rng.choice(options).format(**slots, benefit=benefit)
    if len(subject) > limit:
        subject = f"A quick idea for {slots['company']}"
    if len(subject) > limit:
        subject = f"An idea from {slots['product']}"[:limit]
    return subject


def _opening(rng: random.Random, slots: dict[str, str]) -> str:
    if not slots["pain"]:
        return rng.choice(OPENINGS_WITHOUT_PAIN).format(**slots)
    options = [o for o in OPENINGS_WITH_PAIN
               if ("{role_a}" not in o or _ENGLISH_TITLE.search(slots["role"]))
               and ("{industry}" not in o or slots["industry"])]
    return rng.choice(options).format(**slots)


def write(lead: dict[str, Any], campaign: Campaign, evidence: Sequence[Fact],
          rng: random.Random) -> tuple[str, str]:
    """(subject, body) for one lead; only lead, campaign and evidence text are used."""
    slots = _slots(lead, campaign)
    benefit = rng.choice(campaign.benefits) if campaign.benefits else "save time every week"
    subject = _subject(rng, slots, benefit, campaign.subject_max_chars)
    first_par = []
    note = note_line(lead.get("notes"))
    if note and rng.random() < 0.7:
        first_par.append(note)
    first_par.append(_opening(rng, slots))
    values = VALUES if campaign.benefits else VALUES[:2]
    second = [rng.choice(values).format(**slots, benefit=benefit)]
    facts = list(evidence)[:2] or [campaign.facts[0]]
    second.append(rng.choice(EVIDENCE_LEADS).format(fact=facts[0].text))
    if len(facts) > 1 and rng.random() < 0.35:
        second.append(facts[1].text)
    if campaign.benefits and rng.random() < 0.7:
        other = [b for b in campaign.benefits if b != benefit] or [benefit]
        second.append(rng.choice(BENEFIT_LINES).format(**slots, benefit=rng.choice(other)))
    cta = rng.choice(campaign.calls_to_action)
    closing = f"{rng.choice(SIGN_OFFS)}\n{sender_name(campaign)}"
    body = _assemble(slots["first_name"], first_par, second, cta, closing)
    # Keep inside the campaign's word limits: drop the optional sentences first.
    while len(body.split()) > campaign.body_max_words and len(second) > 2:
        second.pop()
        body = _assemble(slots["first_name"], first_par, second, cta, closing)
    if len(body.split()) > campaign.body_max_words and len(first_par) > 1:
        first_par.pop(0)
        body = _assemble(slots["first_name"], first_par, second, cta, closing)
    names = [slots["first_name"], slots["company"], campaign.sender.name]
    return _tidy(subject, names), _DOUBLE_PERIOD.sub(".", _tidy(body, names))


def _tidy(text: str, names: list[str]) -> str:
    """Doubled words out of the template text, never out of a name ("Dương Dương Công ty")."""
    protected = sorted({n for n in names if n}, key=len, reverse=True)
    for index, name in enumerate(protected):
        text = text.replace(name, f"\x00{index}\x00")
    text = fix_doubled_words(text)
    for index, name in enumerate(protected):
        text = text.replace(f"\x00{index}\x00", name)
    return text


def _assemble(first: str, first_par: list[str], second: list[str], cta: str,
              closing: str) -> str:
    return (f"Hi {first},\n\n" + " ".join(first_par) + "\n\n" + " ".join(second) + " " + cta
            + "\n\n" + closing)


def rng_for(seed: int, lead_id: Any, campaign: Campaign, variant: int) -> random.Random:
    key = f"{seed}:{campaign.campaign_id}:{campaign.version}:{lead_id}:{variant}".encode()
    return random.Random(int.from_bytes(hashlib.sha256(key).digest()[:8], "big"))


def teach(leads: list[dict[str, Any]], campaign: Campaign, seed: int = 0,
          variants: int = 1) -> list[Example]:
    """``variants`` emails per lead, each from its own RNG seeded by (seed, campaign, lead,
    variant), each grounded in the evidence the worker's retrieval picks for that lead."""
    examples = []
    for lead in leads:
        evidence = evidence_for(campaign, lead)
        for variant in range(variants):
            started = time.perf_counter()
            subject, body = write(lead, campaign, evidence,
                                  rng_for(seed, lead.get("lead_id"), campaign, variant))
            examples.append(Example(
                example_id=example_id(str(lead.get("lead_id")), campaign.campaign_id,
                                      TEACHER_NAME, variant),
                lead=lead, subject=subject, body=body, teacher=TEACHER_NAME,
                campaign=campaign.campaign_id, campaign_version=campaign.version,
                evidence_ids=[fact.id for fact in evidence],
                seconds=time.perf_counter() - started))
    return examples


__all__ = ["TEACHER_NAME", "article", "note_line", "teach", "team_for", "write"]
