"""What a draft says about the recipient's own company must come from the lead as written.

Found reading the demo's 24 sent emails of the served miniature (2026-12-08), each passing
every other check:
- a situation the lead's data never gave, stated as known: "I understand that at Hoffmann,
  patching is king.", "I understand that at Harper Group, ERP integration is in short supply.",
  "I know in one line, this is not a priority for Stevens LLC right now." (7 of 24). The teacher
  writes "I understand that at {company}, {pain}." only with the pain the prompt shows
  (generation.prompt.shown_lead); without one, the 270M student fills the slot itself, and the
  recipient reads a claim about their company that is made up;
- the lead's company renamed: "Duata PLC" for "दुत्ता PLC" (1 of 24; the subject had it right).

Both are checked here against the lead's own fields.
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher
from collections.abc import Mapping
from typing import Any

from schemas.campaign import Campaign
from generation import relevance
from generation.prompt import NAME_MAX_CHARS, clean_field

# Sentences that state the recipient's situation as something the sender knows.
_KNOWS = re.compile(r"^(?:I (?:understand|gather|know|hear|heard|noticed|notice|see|think|believe"
                    r"|imagine|suspect)\b|If I have it right\b|It sounds like\b|It seems\b)")
_COMPANY = "\ue000"  # a private-use character: clean_field strips them from every lead value
_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+|$)")
# A pain the sentence carries: at least this IDF-weighted share of the pain's stems (the
# relevance rule's own measure; the teacher copies the pain whole, share 1.0).
PAIN_SHARE = 0.5

# Legal forms a company name ends with: where the lead's company has one, the same form after
# other words names a company the lead is not ("Duata PLC" for "दुत्ता PLC").
LEGAL_FORMS = frozenset("""
PLC Plc plc Inc Inc. LLC L.L.C. Ltd Ltd. Limited GmbH gGmbH mbH AG KG KGaA OHG BV B.V. NV N.V.
AB SA S.A. SL S.L. SpA S.p.A. Srl S.r.l. s.r.l. Oy AS A/S ASA Corp Corp. Corporation Co. Pty
KK SARL SAS S.A.S. LLP LP PLLC e.V. a.s. s.r.o. Sp.z.o.o. S.Com. Bhd Pte
""".split())


def lead_company(lead: Mapping[str, Any]) -> str:
    """The lead's company as the prompt shows it (cleaned and capped), without edge spaces."""
    return clean_field(lead.get("company") or "", NAME_MAX_CHARS).strip()


def sentences(text: str, company: str = "") -> list[str]:
    """The sentences of ``text``; ``company`` as one token, so its own full stops ("Çorlu
    Hançer Tic.", "Sp. z o.o.") end no sentence."""
    masked = text.replace(company, _COMPANY) if company else text
    return [m.group(0).strip().replace(_COMPANY, company)
            for m in _SENTENCE.finditer(masked) if m.group(0).strip()]


def situation_sentences(body: str, lead: Mapping[str, Any], campaign: Campaign) -> list[str]:
    """The sentences stating the recipient's situation ("I understand that at X, ...") that do
    not carry the lead's pain point (any such sentence when the lead has none)."""
    company = lead_company(lead)
    if not company:
        return []
    # The lead's own pain, shown or not: the claim is true when the CRM holds it (an operator's
    # edit may use a pain the prompt left out; the model never saw one to copy).
    pain = clean_field(lead.get("pain_point") or "", 400)
    product = campaign.product.strip()
    found_sentences = []
    for sentence in sentences(body, company):
        opener = _KNOWS.match(sentence)
        if not opener or company not in sentence:
            continue
        after = sentence[opener.end():].lstrip(" ,").removeprefix("that ").lstrip()
        if product and after.startswith(product):
            continue  # "I think Patchwell could help ...": about the product, not the lead
        share, found = relevance.overlap(pain, sentence) if pain else (0.0, 0)
        if share >= PAIN_SHARE and found >= 1:
            continue
        found_sentences.append(sentence)
    return found_sentences


def unsupported_situation(body: str, lead: Mapping[str, Any], campaign: Campaign) -> list[str]:
    """A reason for each of situation_sentences."""
    return ["a claim about the lead's situation its data does not give: "
            f"{sentence[:80]!r}" for sentence in situation_sentences(body, lead, campaign)]


def company_renamed(text: str, lead: Mapping[str, Any], campaign: Campaign) -> list[str]:
    """The lead company's legal form after words that are not its name ("Duata PLC" where
    the lead is "दुत्ता PLC"), where no name of the campaign's own explains it."""
    company = lead_company(lead)
    parts = company.split()
    if len(parts) < 2 or parts[-1] not in LEGAL_FORMS:
        return []
    form = parts[-1]
    covered = [m.span() for name in (company, *(f.customer for f in campaign.facts if f.customer),
                                     campaign.product, campaign.sender.company) if name
               for m in re.finditer(re.escape(name), text)]
    reasons = []
    for m in re.finditer(r"(?<![\w.])" + re.escape(form) + r"(?![\w])", text):
        if any(start <= m.start() and m.end() <= end for start, end in covered):
            continue
        before = text[max(0, m.start() - 30):m.start()].split()[-2:]
        reasons.append(f"the lead's company {company!r} written as "
                       f"{' '.join([*before, form])!r}")
    return reasons


def company_cut_short(text: str, lead: Mapping[str, Any]) -> list[str]:
    """A company whose name has commas, cut at the first one: "For Coleman, that could mean"
    for "Coleman, Cantu and Garrison" (the demo, 2026-12-07 and 2026-12-08)."""
    company = lead_company(lead)
    head = company.split(",")[0].strip()
    if "," not in company or not head:
        return []
    if head in {clean_field(lead.get(k) or "", NAME_MAX_CHARS) for k in ("first_name",
                                                                         "last_name")}:
        return []  # "Parry" is also the lead's own name: no telling the two apart
    masked = text.replace(company, _COMPANY)  # "לוי, גולן and לוי" ends with its own head
    return [f"the lead's company {company!r} cut short as {head!r}"
            for _ in re.finditer(r"(?<!\w)" + re.escape(head) + r"(?!\w)", masked)]


# The teacher's subjects name the lead's company after these words ("A quick idea for
# {company}", "Patchwell for {company}", "A short note for {company}"): another name there is a
# company the lead is not ("Patchwell for राओई" for अरोरा Inc, the demo of 2026-12-08).
_SUBJECT_OPENERS = ("A quick idea", "A short note", "An idea", "A note", "Idea")


def subject_slot(subject: str, lead: Mapping[str, Any], campaign: Campaign) -> str | None:
    """The name in the company slot of a subject "... for X" (X from the subject's start to its
    end) where X is neither the lead's company (as written) nor its team, or None."""
    company = lead_company(lead)
    openers = "|".join(re.escape(o) for o in (*_SUBJECT_OPENERS, campaign.product.strip(),
                                               campaign.sender.company.strip()) if o)
    match = re.match(rf"^(?:{openers}) for (?P<name>.+?)\s*$", subject.strip())
    if not company or not match:
        return None
    name = match.group("name")
    words = {word.lower().strip(".,'") for word in name.split()}
    if name.startswith(company.rstrip(".")) or words & {"your", "you", "the", "a", "an", "team",
                                                        "teams", "leaders", "managers",
                                                        "companies"}:
        return None  # "An idea for your IT team", "Patchwell for IT teams": not a company
    if name.startswith((campaign.product, campaign.sender.company)):
        return None
    return name


def subject_names_another(subject: str, lead: Mapping[str, Any], campaign: Campaign) -> list[str]:
    """A subject "... for X" where X is neither the lead's company (as written) nor its team."""
    name = subject_slot(subject, lead, campaign)
    company = lead_company(lead)
    return [] if name is None else [
        f"the subject names {name[:40]!r}, not the lead's company {company!r}"]


def role_phrases(text: str, lead: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(the role as written, the lead's role) for each "Since you are a/an <role> at <company>"
    or "As a/an <role> at <company>" whose role is not the lead's: "Since you are a member of
    the FrostLedger team at Henson, Banks and Warner" for a Logistics Coordinator (held-out
    quality run of 2026-12-08). The teacher fills the slot with the CRM's role as written."""
    company = lead_company(lead)
    role = clean_field(lead.get("role") or "", NAME_MAX_CHARS).strip()
    if not company:
        return []
    pattern = re.compile(r"\b(?:Since you are|As) (?:a|an) (?P<role>[^,.!?\n]{1,80}?) at "
                         + re.escape(company))
    return [(m.group("role"), role) for m in pattern.finditer(text)
            if m.group("role").casefold() != role.casefold()]


def role_rewritten(text: str, lead: Mapping[str, Any]) -> list[str]:
    """A reason for each of role_phrases (an empty role in the CRM: any role is made up)."""
    return [f"the lead's role {role!r} written as {written!r}"
            for written, role in role_phrases(text, lead)]


# The teacher's lines with a {company} slot (training/teacher_lines.py): what the miniature puts
# there must be the lead's company as written. Held-out read of 2026-12-08: "For 冨田建設株式会社,
# that could mean..." to 藤井建設株式会社, "I understand that at 56, your team is short on spare
# parts." The slot's words are known, so the one right answer is the company itself.
COMPANY_SLOTS = tuple(re.compile(rx) for rx in (
    r"\bI (?:understand|gather) that at (?P<slot>[^\n]+?), ",
    r"(?:^|(?<=[.!?]\s)|(?<=\n))For (?P<slot>(?![a-z])[^\n]+?), that could mean\b",
    r"\bI came across (?P<slot>[^\n]+?) and wanted to share\b",
    r"\bI am writing with a short idea for (?P<slot>[^\n]+?)\.(?=\s|$)",
    r"\bI am writing because \S+ can help (?P<slot>[^\n]+?) (?=[a-z])",
))


def company_slots(text: str, lead: Mapping[str, Any]) -> list[str]:
    """What fills a company slot of the teacher's lines where it is not the lead's company."""
    company = lead_company(lead)
    if not company:
        return []
    found = []
    for pattern in COMPANY_SLOTS:
        for m in pattern.finditer(text):
            # The company may hold what ends a lazy slot (", " in "Gibson, Harris and Harris",
            # a lower-case word in "Phạm và đối tác", a full stop in "e.V."): compare from the
            # slot's start.
            if not text.startswith(company.rstrip("."), m.start("slot")):
                found.append(m.group("slot"))
    return found


def company_slot_reasons(text: str, lead: Mapping[str, Any]) -> list[str]:
    return [f"another name where the lead's company goes: {slot[:40]!r}"
            for slot in company_slots(text, lead)] + [
        f"the lead's company misspelled as {run!r}" for run in company_near_misses(text, lead)]


def company_near_misses(text: str, lead: Mapping[str, Any]) -> list[str]:
    """Runs of as many words as the lead's company that are almost it: "Klopert Groep" for
    "Kloppert Groep" (held-out read of 2026-12-08; ratio 0.96). Latin names of 5+ letters."""
    company = lead_company(lead)
    if len(company) < 5 or not company.isascii():
        return []
    size = len(company.split())
    words = text.split()
    found = []
    for i in range(len(words) - size + 1):
        run = " ".join(words[i:i + size]).strip(".,;:!?()\"'")
        if run == company or run == company.rstrip(".") or run[:1] != company[:1]:
            continue
        if SequenceMatcher(None, run.lower(), company.lower()).ratio() >= 0.85 \
                and run.lower() != company.lower():
            found.append(run)
    return list(dict.fromkeys(found))
