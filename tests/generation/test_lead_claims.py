"""Claims about the recipient's company (generation.lead_claims) and a fact retold with other
numbers (generation.figures.altered_facts), on sentences of the served miniature's demo emails
of 2026-12-08, each of which had passed every other check."""

from __future__ import annotations

import pytest

from tests.support.worker_helpers import sample_campaign
from generation.figures import altered_facts
from generation.lead_claims import company_cut_short, company_renamed, role_rewritten, \
    subject_names_another, unsupported_situation
from generation.sentence_checks import bare_benefits, dangling_bridge, first_email_closers, \
    repeated_benefits

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


@pytest.mark.parametrize(("subject", "flagged"), [
    ("Patchwell for राओई", True),  # the demo of 2026-12-08, lead अरोरा Inc
    ("A quick idea for Arora Inc", True),
    ("Patchwell for अरोरा Inc", False),
    ("A quick idea for अरोरा Inc's IT team", False),
    ("An idea for your IT team", False),
    ("How अरोरा Inc could patch faster", False),
])
def test_the_subject_names_the_leads_company(subject, flagged):
    lead = {"first_name": "जगदीश", "company": "अरोरा Inc"}
    assert bool(subject_names_another(subject, lead, CAMPAIGN)) is flagged


def test_a_company_cut_at_its_comma():
    lead = {"company": "Coleman, Cantu and Garrison"}
    assert company_cut_short("For Coleman, that could mean less work.", lead)
    assert not company_cut_short("For Coleman, Cantu and Garrison, that could mean less.", lead)
    # The teacher's data: a company ending with its own head, a head that is the lead's name.
    assert not company_cut_short("A note for לוי, גולן and לוי.", {"company": "לוי, גולן and לוי"})
    assert not company_cut_short("Hi Parry, a note for Parry, Ward and Co.",
                                 {"company": "Parry, Ward and Co", "first_name": "Parry"})


@pytest.mark.parametrize(("body", "step", "flagged"), [
    ("If this is not a priority for दुत्ता PLC right now, I will keep this one short.", 1, True),
    ("If this is not the right time, just let me know and I will close this.", 1, True),
    ("If this is not a priority for Hoffmann right now, I will close the file.", 3, False),
    ("If it is not the right time, just let me know and I will see you Monday at the company "
     "meeting.", 1, True),  # the demo of 2026-12-08
    ("I know inboxes fill up fast, so here is one more idea.", 1, True),
    ("If the timing is wrong, just say so.", 1, False),
])
def test_a_closing_line_belongs_to_the_last_step(body, step, flagged):
    assert bool(first_email_closers(body, {"step": step})) is flagged


def test_a_benefit_alone_as_a_sentence():
    campaign = sample_campaign(benefits=["patch without late-night change windows"])
    assert bare_benefits("Hi. Patch without late-night change windows. Open?", campaign)
    assert not bare_benefits("It helps you patch without late-night change windows.", campaign)
    assert bare_benefits("Patchwell covers Windows.\nPatch without late-night change windows\n"
                         "Open to a call?", campaign)  # a line of its own, no full stop


def test_a_benefit_said_twice():
    campaign = sample_campaign(benefits=["see every missing patch in one list"])
    twice = ("I think Patchwell could help your team see every missing patch in one list. With "
             "Patchwell, your team can see every missing patch in one list, ranked by real risk.")
    assert repeated_benefits(twice, campaign)
    assert not repeated_benefits(twice.split(". ")[0] + ".", campaign)
    longer = sample_campaign(benefits=["see every missing patch in one list, ranked by real risk"])
    assert repeated_benefits("Patchwell helps you see every missing patch in one list. The aim "
                             "is to help you see every missing patch in one list.", longer)


@pytest.mark.parametrize(("body", "flagged"), [
    ("Hi Laura,\n\nThe aim is to help you keep papers off inboxes.\n\nOpen to a call?", True),
    ("Hi Laura,\n\nFor Farias e Filhos, that could mean fewer audits. Open?", True),
    ("Hi Laura,\n\nBoardNest can help. The aim is to help you find papers. Open?", False),
])
def test_a_bridge_line_first_points_at_nothing(body, flagged):
    assert bool(dangling_bridge(body)) is flagged


def test_the_role_opener_holds_the_leads_role():
    lead = {"company": "Henson, Banks and Warner", "role": "Logistics Coordinator"}
    wrong = "Since you are a member of the FrostLedger team at Henson, Banks and Warner, hi."
    assert role_rewritten(wrong, lead)
    assert not role_rewritten("Since you are a logistics coordinator at Henson, Banks and "
                              "Warner, I thought this might help.", lead)


def test_the_company_slots_hold_the_leads_company():
    from generation.lead_claims import company_slot_reasons
    lead = {"company": "藤井建設株式会社"}
    assert company_slot_reasons("I understand that at 56, your team is short.", lead)
    assert company_slot_reasons("Klopert Groep is great.", {"company": "Kloppert Groep"})
    assert not company_slot_reasons("For 藤井建設株式会社, that could mean less. I came across "
                                    "藤井建設株式会社 and wanted to share one idea.", lead)
