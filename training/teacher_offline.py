"""The offline teacher: rule based, no network, no model, written to read like a rep's email.

Clearly labelled (teacher name ``offline-typed-v3`` on every example) so its examples are never
mistaken for an LLM teacher's. It follows training/teacher_style.md:

- Grounded by construction: every slot is filled from the lead, the campaign or the evidence
  retrieval picked for the lead (the facts the miniature sees in its prompt), never invented.
- Grammatical by construction: sentences are built from typed slots (training.teacher_lines),
  a/an by pronunciation and lead-ins only before ordinary words (training.english), proof points
  by type with a lead-in that fits (training.proof); names and the product exactly as written.
- Relevant: the lead's pain point is used only when the campaign addresses it
  (training.relevance); otherwise the opener comes from the role, industry or company.
- Honest: earlier contact only from a CRM note that records it, and only that contact.
- Varied: 5 structures x 6+ opener families, several phrasings of each part, and a seeded RNG
  per (seed, campaign, lead, variant), so runs are reproducible and the student is not one
  template.
"""

from __future__ import annotations

import hashlib
import random
import re
import time
from collections.abc import Sequence
from typing import Any

from generation import frame
from generation.prompt import NAME_MAX_CHARS, clean_field, sender_name
from generation.retrieval import evidence_for
from schemas.campaign import Campaign, Fact
from generation import relevance
from training import proof
from training import teacher_lines as lines
from training.english import article, with_article
from training.grammar import fix_doubled_words, possessive, possessive_ok
from training.records import Example, example_id

TEACHER_NAME = "offline-typed-v3"
STRUCTURES = ("problem_first", "proof_first", "short", "benefit_first", "value_then_proof")
# The style guide's length for a first email, inside the campaign's own limits.
TARGET_WORDS = (60, 120)
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
_ENGLISH_TITLE = re.compile(r"^[A-Za-z &,/-]+$")
_TITLE_WORD = re.compile(r"\b(head|vp|manager|director|chief|lead|officer|controller|owner|"
                         r"founder|partner|cfo|cto|ciso|coo|counsel|president)\b", re.I)
# Industries that read as "in the public sector", not "in public sector".
_INDUSTRY_PHRASE = {"public sector": "the public sector", "nonprofit": "the nonprofit sector"}
# "Souza Ltda." ending a sentence: one period, not two (an ellipsis stays).
_DOUBLE_PERIOD = re.compile(r"(?<!\.)\.\.(?!\.)")


def team_for(role: str | None) -> str:
    words = re.findall(r"[A-Za-z]+", role or "")
    # "IT" and "HR" count only in capitals: "it" is a pronoun, never a department.
    keys = {w.lower() for w in words if w.lower() not in ("it", "hr") or w in ("IT", "HR")}
    return next((team for key, team in TEAM_BY_ROLE if key in keys), "team")


def note_line(notes: str | None) -> str | None:
    return lines.note_line(notes)


def _lower_first(text: str) -> str:
    """Lower-case a pain point's first letter unless it is an acronym ("SDR team...")."""
    return text[:1].lower() + text[1:] if text[:2] != text[:2].upper() else text


def slots_for(lead: dict[str, Any], campaign: Campaign) -> dict[str, Any]:
    first = clean_field(lead.get("first_name") or "", NAME_MAX_CHARS) or "there"
    company = clean_field(lead.get("company") or "", NAME_MAX_CHARS) or "your company"
    role = clean_field(lead.get("role") or "", 80)
    team = team_for(role)
    industry = clean_field(lead.get("industry") or "", 60)
    return {"first_name": first, "company": company, "role": role, "team": team,
            "team_fits": _benefit_team(team, campaign) != "team",
            "role_a": with_article(role) if role else "",
            "role_english": bool(role and _ENGLISH_TITLE.match(role) and _TITLE_WORD.search(role)),
            "industry": _INDUSTRY_PHRASE.get(industry.lower(), industry),
            "pain": _lower_first(clean_field(lead.get("pain_point") or "", 200).rstrip(".")),
            "company_pos": possessive(company), "product": campaign.product,
            "value": campaign.value_proposition, "sender": sender_name(campaign),
            "sender_company": campaign.sender.company}


def _subject(rng: random.Random, slots: dict[str, Any], benefit: str, limit: int) -> str:
    options = [s for s in lines.SUBJECTS
               if ("{company_pos}" not in s or (possessive_ok(slots["company"])
                                                and slots["team"] != "team"))
               and ("{benefit}" not in s or benefit)]
    subject = rng.choice(options).format(**slots, benefit=benefit)
    for fallback in lines.SUBJECT_FALLBACKS:
        if len(subject) <= limit:
            break
        subject = fallback.format(**slots)
    return subject[:limit]


def _benefit_team(team: str, campaign: Campaign) -> str:
    """The lead's team in a benefit line ("your finance team can close the books") only when
    the campaign speaks to that team (its text or its facts' role tags name it); a data team
    is not the one a scheduling product helps, so it becomes "your team"."""
    key = team.split(" ")[0].lower()
    text = campaign.source_text().lower() + " " + " ".join(
        tag.lower() for fact in campaign.facts for tag in fact.roles)
    return team if team != "team" and re.search(rf"\b{re.escape(key)}\b", text) else "team"


def _parts(lead: dict[str, Any], campaign: Campaign, evidence: Sequence[Fact],
           rng: random.Random) -> tuple[list[list[str]], str, set[str]]:
    """(paragraphs as lists of sentences, the benefit for the subject, the sentences that must
    stay when the body is shortened: opener, first proof, call to action)."""
    slots = slots_for(lead, campaign)
    benefits = list(campaign.benefits)
    rng.shuffle(benefits)
    benefit, other_benefit = (benefits * 2)[:2] if benefits else ("", "")
    fill = {**slots, "benefit": benefit, "team": _benefit_team(slots["team"], campaign)}
    pain_ok = relevance.pain_fits(campaign, lead.get("pain_point"))
    note = lines.note_line(lead.get("notes"), rng.randrange(2))
    opener = rng.choice(lines.openers(slots, pain_ok))
    opening = opener.template.format(**slots, benefit=benefit)
    structure = rng.choice(STRUCTURES if benefit else STRUCTURES[:2] + STRUCTURES[4:])
    facts = list(evidence)[:2] or [campaign.facts[0]]
    value = rng.choice(lines.VALUE_LINES if benefit else lines.VALUE_LINES[:1]).format(**fill)
    # "It" may stand for the product only right after a sentence whose subject is the product.
    after_value = value.startswith(campaign.product + " ")
    extra = []
    echo = proof.industry_echo(facts[0], {**lead, "industry": slots["industry"]})
    if echo:
        extra.append(echo)
    elif len(facts) > 1 and rng.random() < 0.4:
        extra.append(facts[1].text)
    cta = rng.choice(campaign.calls_to_action)
    head = [note] if note else []
    said = list(head)

    def pick(options: Sequence[str], **extra_slots: str) -> str:
        """One of ``options`` filled; a line naming the company only while the body names it
        fewer than MAX_COMPANY_MENTIONS times (three mentions of a long name read badly)."""
        named = sum(line.count(slots["company"]) for line in said)
        usable = [o for o in options if ("{company}" not in o
                                         or named < lines.MAX_COMPANY_MENTIONS)
                  and (slots["team_fits"] or not lines.presumes_team(o))] or list(options)
        line = rng.choice(usable).format(**{**fill, **extra_slots})
        said.append(line)
        return line

    def bridge(after_product_fact: bool) -> str:
        """A second benefit. "That could help ..." points back at the sentence before it, so
        it follows only a sentence about the product: after a customer's story ("Ortega
        patched its workstations. That could help your team ...") it reads as a non sequitur."""
        if not other_benefit:
            return ""
        return pick(lines.BRIDGE_LINES if after_product_fact else lines.PLAIN_BRIDGE_LINES,
                    benefit=other_benefit)

    # The sentence before a bridge: the first fact, or an extra (an echo or a second fact).
    product_fact = not extra and proof.kind_of(facts[0], campaign) is not proof.Kind.STORY

    if structure == "benefit_first":
        # The benefit leads; a pain or industry opener follows as the reason for writing.
        first = pick(lines.BENEFIT_OPENERS)
        # ... unless both start alike ("I am writing because ... I am writing to a few
        # companies in ..."): one "I am writing" is enough.
        context = [opening] if (opener.family in ("pain", "industry")
                                and opening.split()[:3] != first.split()[:3]) else []
        said.extend(context)
        fact = proof.render(facts[0], campaign, lead, rng, False)
        return ([head + [first, *context], [fact, *extra, bridge(product_fact)], [cta]], benefit,
                {first, fact, cta})
    said.append(opening)
    if structure == "problem_first":
        fact = proof.render(facts[0], campaign, lead, rng, after_value)
        paragraphs = [head + [opening], [value, fact, *extra, bridge(product_fact)], [cta]]
    elif structure == "proof_first":
        fact = proof.render(facts[0], campaign, lead, rng, False)
        paragraphs = [head + [opening], [fact, *extra, pick(lines.HELP_LINES) if benefit
                                         else value], [cta]]
    elif structure == "short":
        help_line = pick(lines.HELP_LINES)
        fact = proof.render(facts[0], campaign, lead, rng, False)
        paragraphs = [head + [opening, help_line], [fact, cta]]
    else:  # value_then_proof
        fact = proof.render(facts[0], campaign, lead, rng, after_value)
        paragraphs = [head + [opening, value], [fact, *extra, bridge(product_fact), cta]]
    return [[s for s in p if s] for p in paragraphs], benefit, {opening, fact, cta}


def _body(lead: dict[str, Any], paragraphs: list[list[str]], campaign: Campaign) -> str:
    # The greeting and the one sign-off are the code's frame (generation.frame), the same the
    # worker puts around the miniature's text, so the student learns the body between them.
    return frame.framed("\n\n".join(" ".join(p) for p in paragraphs if p), lead, campaign)


def _fit(lead: dict[str, Any], paragraphs: list[list[str]], campaign: Campaign,
         keep: set[str]) -> str:
    """The body inside the style guide's length and the campaign's limits: optional sentences
    (anything but the opener, the first fact and the call to action) go first, last first."""
    high = min(campaign.body_max_words, max(TARGET_WORDS[1], campaign.body_min_words + 10))
    body = _body(lead, paragraphs, campaign)
    optional = [(i, s) for i, p in enumerate(paragraphs) for s in p if s not in keep]
    while len(body.split()) > high and optional:
        index, sentence = optional.pop()
        paragraphs[index].remove(sentence)
        body = _body(lead, paragraphs, campaign)
    return body


def write(lead: dict[str, Any], campaign: Campaign, evidence: Sequence[Fact],
          rng: random.Random) -> tuple[str, str]:
    """(subject, body) for one lead; only lead, campaign and evidence text are used."""
    paragraphs, benefit, keep = _parts(lead, campaign, evidence, rng)
    slots = slots_for(lead, campaign)
    subject = _subject(rng, slots, benefit, campaign.subject_max_chars)
    body = _fit(lead, paragraphs, campaign, keep)
    names = [slots["first_name"], slots["company"], campaign.sender.name, campaign.product]
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


__all__ = ["STRUCTURES", "TEACHER_NAME", "article", "note_line", "teach", "team_for", "write"]
