"""The offline teacher's sentences, each built from typed slots (training/teacher_style.md).

Slot types, so no join can break a sentence: ``pain`` is a clause ("invoices pile up waiting
for approval") or, when it has no verb, a noun phrase ("slow invoice approvals"); ``benefit`` is
a bare verb phrase ("close the books faster"), only ever after "help ...", "can", "to" or "let
...": never a subject; ``role_a`` is a title with its article chosen by sound; ``company`` and
names are never lower-cased, possessed only where that reads well, and never start a lead-in.

Openers come in families (pain, role, industry, company, team, sender), and each family is
used only where its slots exist: a pain only when the campaign addresses it
(training.relevance), a role only when it is an English title, an industry only when known.
Earlier contact is only ever stated from a CRM note that records it (``note_line``), and then
only that contact.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# CRM note prefix -> the sentences it allows, each claiming only the kind of contact the note
# records (generation.contact_claims.NOTE_KINDS: "asked about" records a question, not an
# inbound message, so never "Thanks for asking"). Any other note is never paraphrased: free
# text could be misread as a contact that did not happen.
NOTE_LINES = (
    ("met at ", ("It was good to meet you at {rest}.", "Thanks again for the chat at {rest}.")),
    ("visited the booth in ", ("Thanks for visiting our booth in {rest}.",
                               "Thank you for stopping by our booth in {rest}.")),
    ("downloaded ", ("Thanks for downloading {rest}.", "I saw that you downloaded {rest}.")),
    ("asked about ", ("You asked about {rest}, so I wanted to follow up.",
                      "Since you asked about {rest}, I thought I would follow up.")),
    ("referred by a partner in ", ("A partner of ours in {rest} suggested I get in touch.",)),
)
# Words that make a pain a clause (it has a finite verb). Pains without one are noun phrases.
_FINITE = frozenset("""
is are was were has have had takes take keep keeps stay stays pile piles eat eats spend spends
wait waits drop drops show shows arrive arrives rose rise rises fell fall falls break breaks live
lives leave leaves close closes happen happens renew renews trust trusts run runs heat heats
doubles double chase chases answer answers start starts complain complains retype retypes lead
leads cannot can't don't doesn't won't need needs go goes come comes cost costs lose loses miss
misses get gets sit sits slip slips lag lags fail fails sits hold holds depend depends stall
stalls expire expires overlap overlaps vanish vanishes bounce bounces freeze freezes
""".split())
_TOKEN = re.compile(r"[\w'-]+")

PAIN_CLAUSE_OPENERS = (
    "I understand that at {company}, {pain}.",
    "If I have it right, {pain} at {company}.",
    "I gather that at {company}, {pain}, and that is the problem {product} was built for.",
)
PAIN_PHRASE_OPENERS = (
    "I understand that {company} is dealing with {pain}.",
)
ROLE_OPENERS = (
    "Since you are {role_a} at {company}, I thought {product} might be useful to you.",
)
# Only when the lead's team is one the campaign speaks to: a Head of Data is not "the person who
# would decide" on cold-chain sensors.
FITTING_ROLE_OPENERS = (
    "As {role_a} at {company}, you are probably the person who would decide on something like "
    "{product}.",
)
INDUSTRY_OPENERS = (
    "I am writing to a few companies in {industry}, and {company} is one of them.",
    "Since {company} works in {industry}, I thought this might be relevant.",
)
COMPANY_OPENERS = (
    "I am writing with a short idea for {company}.",
    "I came across {company} and wanted to share one idea with you.",
)
TEAM_OPENERS = (
    "I have a short idea for you and your {team} at {company}.",
)
SENDER_OPENERS = (
    "My name is {sender}, and I work at {sender_company}.",
)
# Benefit-led opening (structure "benefit first"): the benefit is a verb phrase after "help".
BENEFIT_OPENERS = (
    "I am writing because {product} can help {company} {benefit}.",
    "I think {product} could help your {team} {benefit}.",
)
VALUE_LINES = ("{value}", "{value}", "With {product}, your {team} can {benefit}.")
HELP_LINES = ("{product} can help your {team} {benefit}.",
              "{product} is built to help teams like yours {benefit}.",
              "{product} is built to help companies like yours {benefit}.")
# Lines that point back at the sentence before them ("That ...", "It would ..."): only after a
# sentence about the product (teacher_offline), never after a customer's story.
BRIDGE_LINES = (
    "That could help your {team} {benefit}.",
    "For {company}, that could mean being able to {benefit}.",
    "It would let your {team} {benefit}.",
    "The aim is to help you {benefit}.",
)
PLAIN_BRIDGE_LINES = (
    "The aim is to help you {benefit}.",
    "{product} can also help your {team} {benefit}.",
)


def presumes_team(template: str) -> bool:
    """Whether a line presumes the lead's team is one the product is for ("teams like
    yours"): used only when the campaign speaks to that team."""
    return "teams like yours" in template

# A company name reads well twice in a short email, not three times: lines that name it are
# left out once the body already has.
MAX_COMPANY_MENTIONS = 2
SUBJECTS = (
    "A quick idea for {company}",
    "An idea for {company_pos} {team}",
    "{product} for {company}",
    "How {company} could {benefit}",
    "Helping {company} {benefit}",
    "A short note for {company}",
)
SUBJECT_FALLBACKS = ("A quick idea for {company}", "An idea from {product}")


def is_clause(pain: str) -> bool:
    """Whether a pain has a finite verb ("invoices pile up") or is a noun phrase."""
    return any(token.lower() in _FINITE for token in _TOKEN.findall(pain))


def note_line(notes: str | None, pick: int = 0) -> str | None:
    """The sentence a CRM note allows (variant ``pick``), or None for any other note."""
    if not notes:
        return None
    text = notes.strip().rstrip(".")
    for prefix, templates in NOTE_LINES:
        if text.lower().startswith(prefix):
            rest = text[len(prefix):].strip()
            if not rest:
                return None
            if prefix == "met at " and not rest.lower().startswith("the "):
                rest = "the " + rest
            return templates[pick % len(templates)].format(rest=rest)
    return None


@dataclass(frozen=True)
class Opener:
    family: str
    template: str


def openers(slots: dict[str, str], pain_ok: bool) -> list[Opener]:
    """Every opener whose slots this lead fills. With an addressed pain only pain openers (the
    pain is the best reason to write); otherwise role, industry, company, team, sender."""
    if pain_ok and slots["pain"]:
        pool = PAIN_CLAUSE_OPENERS if is_clause(slots["pain"]) else PAIN_PHRASE_OPENERS
        return [Opener("pain", t) for t in pool]
    found = [Opener("company", t) for t in COMPANY_OPENERS]
    found += [Opener("sender", t) for t in SENDER_OPENERS]
    if slots["role_english"]:
        found += [Opener("role", t) for t in ROLE_OPENERS]
        if slots.get("team_fits"):
            found += [Opener("role", t) for t in FITTING_ROLE_OPENERS]
    if slots["industry"]:
        found += [Opener("industry", t) for t in INDUSTRY_OPENERS]
    if slots["team"] != "team" and slots.get("team_fits"):
        found += [Opener("team", t) for t in TEAM_OPENERS]
    return found
