"""Claims about the recipient's company (generation.lead_claims) and a fact retold with other
numbers (generation.figures.altered_facts), on sentences of the served miniature's demo emails
of 2026-12-08, each of which had passed every other check."""

from __future__ import annotations

import pytest

from tests.support.worker_helpers import sample_campaign
from generation.figures import altered_facts
from generation.lead_claims import company_renamed, unsupported_situation

CAMPAIGN = sample_campaign(product="Patchwell")
LEAD = {"first_name": "Ryszard", "company": "Hoffmann", "role": "IT Manager",
        "industry": "retail", "pain_point": "patching laptops falls behind every month"}
NO_PAIN = {key: value for key, value in LEAD.items() if key != "pain_point"}


@pytest.mark.parametrize(("body", "lead", "flagged"), [
    ("I understand that at Hoffmann, patching is king. Patchwell can help.", LEAD, True),
    ("I understand that at Hoffmann, patching is king. Patchwell can help.", NO_PAIN, True),
    ("I know in one line, this is not a priority for Hoffmann right now.", NO_PAIN, True),
    ("I gather that at Hoffmann, invoicing is in short supply.", NO_PAIN, True),
    # the lead's own pain, as the teacher writes it
    ("I understand that at Hoffmann, patching laptops falls behind every month.", LEAD, False),
    ("If I have it right, patching laptops falls behind every month at Hoffmann.", LEAD, False),
    # about the product or the sender, not the lead's situation
    ("I think Patchwell could help your team at Hoffmann see every missing patch.", NO_PAIN,
     False),
    ("I came across Hoffmann and wanted to share one idea with you.", NO_PAIN, False),
    ("Since you are an IT Manager at Hoffmann, I thought Patchwell might be useful.", NO_PAIN,
     False),
])
def test_a_situation_the_lead_data_does_not_give(body, lead, flagged):
    assert bool(unsupported_situation(body, lead, CAMPAIGN)) is flagged


@pytest.mark.parametrize(("text", "flagged"), [
    ("Since you are a Controller at Duata PLC, I thought Ledgerline might help.", True),
    ("A quick idea for दुत्ता PLC: Ledgerline reads supplier invoices.", False),
    ("Since you are a Controller at दुत्ता PLC, I thought this might help.", False),
])
def test_the_lead_company_renamed(text, flagged):
    lead = {"first_name": "प्रेम", "company": "दुत्ता PLC"}
    assert bool(company_renamed(text, lead, sample_campaign(product="Ledgerline"))) is flagged


def test_a_company_without_a_legal_form_is_not_judged():
    assert company_renamed("Duata PLC and Hoffmann.", LEAD, CAMPAIGN) == []


@pytest.mark.parametrize(("text", "flagged"), [
    # the campaign's fact: "Lindenhof Kliniken cut missed follow-up appointments by 40%."
    ("Lindenhof Kliniken cut missed follow-up appointments by 16%.", True),
    ("Lindenhof Kliniken cut missed follow-up appointments by 40%.", False),
    ("Harborview Hotels doubled booking replies within six weeks.", False),
    ("Harborview Hotels doubled booking replies within eleven weeks.", True),
    ("Teams answer 12 inquiries a day; Lindenhof is a clinic.", False),  # no fact retold
])
def test_a_fact_retold_with_other_numbers(text, flagged):
    assert bool(altered_facts(text, sample_campaign())) is flagged
