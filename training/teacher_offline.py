"""The offline teacher: rule and template based, no network, no model.

Clearly labelled (teacher name ``offline-templates-v1`` on every example) so its examples are
never mistaken for an LLM teacher's. Grounded by construction: every slot is filled from the
lead or the brief, never invented. Varied so a miniature learns the structure, not one string:
5 subject x 4 opening x 3 value x 4 proof x 4 CTA x 3 sign-off families give >2,000 skeletons
before the lead's own fields, and a seeded RNG per lead makes each run reproducible.
"""

from __future__ import annotations

import hashlib
import random
import time
from typing import Any

from training.brief import Brief
from training.records import Example, example_id

TEACHER_NAME = "offline-templates-v1"

SUBJECTS = (
    "A quick idea for {company}",
    "{first_name}, a thought on outreach at {company}",
    "Personal first-touch emails at {company}",
    "Idea for {company}'s {team}",
    "Saving your {team} time, {first_name}",
)
# Openings state the lead's pain point back; {pain} is the CRM's phrase, lower-cased start.
OPENINGS = (
    "I noticed that at {company}, {pain}.",
    "As {role_article} {role} at {company}, you may know this one well: {pain}.",
    "From what I understand, {pain} at {company}.",
    "Many {industry} teams tell us the same thing we hear about {company}: {pain}.",
)
NOTE_OPENERS = (
    ("met at ", "It was good to meet you at {rest}."),
    ("downloaded ", "Thanks for downloading {rest}."),
    ("asked about ", "You asked about {rest}, so I will keep this short."),
)
VALUES = (
    "With {product}, {value}.",
    "{product} helps here: {value}.",
    "That is exactly what {product} is for: {value}.",
)
BENEFIT_LINES = (
    "For a {team} like yours, that means we {benefit}.",
    "The goal is simple: {benefit}.",
    "It would let you {benefit}.",
)
SIGN_OFFS = ("Best,\n{sender}", "Thanks,\n{sender}", "Best regards,\n{sender}")
TEAM_BY_ROLE = {"sales": "sales team", "marketing": "marketing team", "growth": "growth team",
                "revenue": "revenue team", "customer": "customer success team",
                "operations": "operations team", "cto": "team", "founder": "team"}


def _team(role: str) -> str:
    lowered = role.lower()
    return next((team for key, team in TEAM_BY_ROLE.items() if key in lowered), "team")


def _note_line(notes: str | None) -> str | None:
    if not notes:
        return None
    lowered = notes.strip().rstrip(".")
    for prefix, template in NOTE_OPENERS:
        if lowered.lower().startswith(prefix):
            rest = lowered[len(prefix):]
            return template.format(rest=("the " + rest) if prefix == "met at " and not
                                   rest.lower().startswith("the ") else rest)
    return None  # unknown free text is never paraphrased: it could be misread as a claim


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[:2].upper() != text[:2] else text


def write(lead: dict[str, Any], brief: Brief, rng: random.Random) -> tuple[str, str]:
    """(subject, body) for one lead; only lead fields and brief text are used."""
    first = str(lead.get("first_name") or "there")
    company = str(lead.get("company") or "your company")
    role = str(lead.get("role") or "leader")
    pain = _lower_first(str(lead.get("pain_point") or "outreach takes too much of the team's time"))
    industry = str(lead.get("industry") or "growing")
    team = _team(role)
    slots = {"first_name": first, "company": company, "role": role, "pain": pain,
             "industry": industry, "team": team, "product": brief.product,
             "value": brief.value_proposition, "sender": brief.sender_name,
             "role_article": "an" if role[:1].lower() in "aeiou" else "a"}
    subject = rng.choice(SUBJECTS).format(**slots)
    if len(subject) > brief.subject_max_chars:
        subject = f"A quick idea for {company}"[:brief.subject_max_chars]
    sentences = []
    note = _note_line(lead.get("notes"))
    if note and rng.random() < 0.7:
        sentences.append(note)
    sentences.append(rng.choice(OPENINGS).format(**slots))
    sentences.append(rng.choice(VALUES).format(**slots))
    sentences.append(rng.choice(BENEFIT_LINES).format(**slots, benefit=rng.choice(brief.benefits)))
    if rng.random() < 0.8:
        sentences.append(rng.choice(brief.proof_points))
    paragraph_break = rng.randint(1, len(sentences) - 1)
    body = (f"Hi {first},\n\n" + " ".join(sentences[:paragraph_break]) + "\n\n"
            + " ".join(sentences[paragraph_break:]) + " " + rng.choice(brief.call_to_action)
            + "\n\n" + rng.choice(SIGN_OFFS).format(**slots))
    return subject, body


def teach(leads: list[dict[str, Any]], brief: Brief, seed: int = 0,
          variants: int = 1) -> list[Example]:
    """``variants`` emails per lead, each from its own RNG seeded by (seed, lead, variant)."""
    examples = []
    for lead in leads:
        for variant in range(variants):
            key = f"{seed}:{lead.get('lead_id')}:{variant}".encode()
            rng = random.Random(int.from_bytes(hashlib.sha256(key).digest()[:8], "big"))
            started = time.perf_counter()
            subject, body = write(lead, brief, rng)
            examples.append(Example(
                example_id=example_id(str(lead.get("lead_id")), brief.campaign, TEACHER_NAME,
                                      variant),
                lead=lead, subject=subject, body=body, teacher=TEACHER_NAME,
                campaign=brief.campaign, seconds=time.perf_counter() - started))
    return examples
