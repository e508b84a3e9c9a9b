"""Mechanical slips fixed before the checks (generation.repair), on text the served miniature
wrote, and what must stay a rejection; then through parse_and_check, the worker's path."""

from __future__ import annotations

import pytest

from tests.support.worker_helpers import sample_campaign
from outreach.errors import DraftRejected
from outreach.settings import ChecksSettings
from generation.checks import check_draft, parse_and_check
from generation.repair import repair

LEDGER = sample_campaign(product="Ledgerline")
LEAD = {"first_name": "Ann", "last_name": "Opman", "company": "Opmans BV", "role": "CFO",
        "industry": "logistics", "email": "ann@opmans.example"}
CJK = LEAD | {"first_name": "翼", "last_name": "中村", "company": "中村通信合同会社"}
HINDI = LEAD | {"first_name": "अमित", "last_name": "प्रधान", "company": "प्रधान-नाथ"}


def body_of(text: str, lead=LEAD, campaign=LEDGER) -> str:
    return repair("Subject", text, lead, campaign).body


@pytest.mark.parametrize(("text", "fixed"), [
    # Each left side is a sentence of a served draft (2026-12-07 demo and quality runs).
    ("OPMANS BV closes the books late.", "Opmans BV closes the books late."),
    ("Leadline can also help your team stop paying the same invoice twice.",
     "Ledgerline can also help your team stop paying the same invoice twice."),
    ("We help a HR team like yours.", "We help an HR team like yours."),
    ("Here is an thought about Opmans BV.", "Here is a thought about Opmans BV."),
    ("A recent result: Every approval is logged.", "A recent result: every approval is logged."),
    ("Ledgerline reads invoices; see ledgerline.example/demo.",
     "Ledgerline reads invoices; see ledgerline.example/demo."),  # a link keeps its casing
    ("Plan A is cheaper.", "Plan A is cheaper."),
])
def test_a_slip_with_one_right_answer_is_fixed(text, fixed):
    assert body_of(text) == fixed


@pytest.mark.parametrize(("text", "lead", "fixed"), [
    ("A quick idea for中村通信合同会社 and your team.", CJK,
     "A quick idea for 中村通信合同会社 and your team."),
    ("A short note for the team atप्रधान-नाथ, as it can help.", HINDI,
     "A short note for the team at प्रधान-नाथ, as it can help."),
    ("Teams at中村通信合同会社and others.", CJK, "Teams at 中村通信合同会社 and others."),
])
def test_a_name_in_another_script_gets_its_space(text, lead, fixed):
    assert body_of(text, lead) == fixed


def test_a_customer_in_the_products_line_and_a_false_peer_claim():
    campaign = sample_campaign(product="Relaywise")
    lead = LEAD | {"industry": "pharmaceuticals"}
    text = ("Harborview Hotels doubled booking replies within six weeks. Harborview Hotels is in "
            "pharmaceuticals too. Harborview Hotels is built to help companies like yours "
            "answer every inquiry.\nHarborview Hotels is in pharmaceuticals too. Open to a call?")
    assert body_of(text, lead, campaign) == (
        "Harborview Hotels doubled booking replies within six weeks. Relaywise is built to help "
        "companies like yours answer every inquiry.\nOpen to a call?")
    # True for a lead in hospitality (the case study's tag): kept.
    kept = "Harborview Hotels doubled booking replies. Harborview Hotels is in hospitality too."
    assert body_of(kept, LEAD | {"industry": "hospitality"}, campaign) == kept


@pytest.mark.parametrize("text", [
    "One of our customers, Every Approvals, , matches invoices.",  # an empty slot: not a typo
    "Lindenhof Kliniken can stop paying the same invoice twice.",  # no product reading
    "We met Harborview Hotels, which is in retail too, last year.",  # inside a longer sentence
    "A quick idea for株式会社松本運輸 and you.",  # glued to a name the lead does not hold
])
def test_what_needs_judgement_is_left_for_the_checks(text):
    assert body_of(text, CJK) == text


def test_the_lead_writes_its_own_mixed_script_name_as_it_likes():
    lead = LEAD | {"company": "ABC株式会社"}
    assert body_of("A quick idea for ABC株式会社.", lead) == "A quick idea for ABC株式会社."


def test_the_worker_sends_the_repaired_draft_and_the_checks_still_run():
    completion = ("Opmans BV and a HR idea\n\nHi Ann,\n\nLeadline helps OPMANS BV pay each "
                  "invoice once, matched to its purchase order and receipt before anyone approves it, so "
                  "the team spends its week on exceptions. Would you be open to a 15-minute call next week?\n\nBest,\n"
                  "Noor Haddad")
    draft = parse_and_check("Subject: ", completion, LEAD, ChecksSettings(), LEDGER)
    assert "an HR idea" in draft.subject
    assert "Ledgerline helps Opmans BV pay" in draft.body
    assert check_draft(draft, LEAD, ChecksSettings(), LEDGER) == []
    broken = completion.replace("pay each invoice once", "pay each invoice, , once")
    with pytest.raises(DraftRejected, match="doubled or stray punctuation"):
        parse_and_check("Subject: ", broken, LEAD, ChecksSettings(), LEDGER)


def test_a_company_cut_at_its_comma_and_a_benefit_alone_are_mended():
    campaign = sample_campaign(product="Patchwell",
                               benefits=["patch without late-night change windows",
                                         "see every missing patch in one list"])
    lead = LEAD | {"company": "Coleman, Cantu and Garrison"}
    alone = "Patchwell covers Windows.\nPatch without late-night change windows\nOpen?"
    assert body_of(alone, lead, campaign) == "Patchwell covers Windows.\n\nOpen?"
    text = ("Patchwell is built to help companies like yours. Patch without late-night change "
            "windows. For Coleman, that could mean fewer audits. Coleman, Cantu and Garrison "
            "runs lean.")
    assert body_of(text, lead, campaign) == (
        "Patchwell is built to help companies like yours. For Coleman, Cantu and Garrison, that "
        "could mean fewer audits. Coleman, Cantu and Garrison runs lean.")


def test_the_product_split_in_two_words_is_joined():
    assert body_of("The short version: Leadley line reads supplier invoices.") == \
        "The short version: Ledgerline reads supplier invoices."


def test_a_sentence_a_rep_would_delete_whole():
    campaign = sample_campaign(product="Patchwell")
    lead = LEAD | {"company": "Hoffmann", "pain_point": "patching laptops falls behind"}
    text = ("I understand that at Hoffmann, patching is king. Patchwell lists every missing "
            "patch.\n\nIf this is not a priority for Hoffmann right now, I will keep this one "
            "short. Open to a call?")
    assert body_of(text, lead, campaign) == "Patchwell lists every missing patch.\n\nOpen to a call?"
    kept = "I understand that at Hoffmann, patching laptops falls behind. Open to a call?"
    assert body_of(kept, lead, campaign) == kept  # the lead's own pain
    closing = "If this is not a priority for Hoffmann right now, I will close the file."
    assert repair("S", closing, lead, campaign, step=3).body == closing  # a last step's line


def test_the_role_opener_gets_the_crm_role_and_its_article():
    lead = LEAD | {"company": "Henson, Banks and Warner", "role": "Operations Lead"}
    text = "Since you are a member of the FrostLedger team at Henson, Banks and Warner, hi."
    assert body_of(text, lead) == "Since you are an Operations Lead at Henson, Banks and Warner, hi."


@pytest.mark.parametrize(("text", "fixed"), [
    # held-out read of 2026-12-08: another company in the teacher's {company} slot
    ("It went well. For 冨田建設株式会社, that could mean fewer stops.",
     "It went well. For 藤井建設株式会社, that could mean fewer stops."),
    ("I came across 藤井建設 and wanted to share one idea with you.",
     "I came across 藤井建設株式会社 and wanted to share one idea with you."),
])
def test_the_leads_company_goes_in_its_slot(text, fixed):
    assert body_of(text, LEAD | {"company": "藤井建設株式会社"}) == fixed


def test_a_near_miss_of_the_leads_company_and_a_capitalized_word_left_alone():
    lead = LEAD | {"company": "Kloppert Groep"}
    assert body_of("Since you are a partner in Klopert Groep, hi.", lead) == \
        "Since you are a partner in Kloppert Groep, hi."
    glossa = sample_campaign(product="Glossa")
    assert body_of("Glossy pages stay. Glosa can help.", lead, glossa) == \
        "Glossy pages stay. Glossa can help."


def test_a_line_restating_a_benefit_already_said_goes():
    campaign = sample_campaign(product="Patchwell",
                               benefits=["see every missing patch in one list, ranked by real risk"])
    text = ("I think Patchwell could help your team see every missing patch in one list.\n\n"
            "Patchwell covers Windows and macOS. The aim is to help you see every missing patch "
            "in one list. Open to a call?")
    assert body_of(text, LEAD, campaign) == (
        "I think Patchwell could help your team see every missing patch in one list.\n\n"
        "Patchwell covers Windows and macOS. Open to a call?")
    # The first saying stays, and two that are not restating lines stay for the check.
    twice = ("Patchwell lets you see every missing patch in one list. Teams see every missing "
             "patch in one list daily. Open?")
    assert body_of(twice, LEAD, campaign) == twice


def test_the_subjects_company_slot_holds_the_leads_company():
    lead = LEAD | {"company": "अरोरा Inc"}
    patchwell = sample_campaign(product="Patchwell")
    assert repair("Patchwell for राओई", "Text.", lead, patchwell).subject == "Patchwell for अरोरा Inc"
    assert repair("An idea for your IT team", "Text.", lead, patchwell).subject == \
        "An idea for your IT team"
