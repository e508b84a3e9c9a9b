"""Each reader's-defect check on failing and passing examples (generation.style_checks), and
through the one entry point (generation.checks.check_draft)."""

from __future__ import annotations

import pytest

from tests.support.worker_helpers import sample_campaign, sample_leads
from outreach.settings import ChecksSettings
from generation.checks import check_draft
from generation.draft import Draft
from generation.style_checks import article_slips, calls_to_action, glued_greeting, \
    customer_as_product, doubled_punctuation, glued_scripts, label_capitals, missing_call_to_action, name_casing, \
    near_miss_names, peer_claims, product_as_customer, wants_an

CAMPAIGN = sample_campaign()
CLAUSE = sample_campaign(product="ClauseCheck")


@pytest.mark.parametrize(("text", "slip"), [
    ("Here is an thought about Northwind.", True),
    ("We help a HR team like yours.", True),
    ("It is an unique way to close.", True),
    ("It takes an 15-minute call.", True),
    ("We built a easy tool.", True),
    ("It saves a hour a day.", True),
    ("A SDR spends hours on email.", True),
    ("Here is a thought about Northwind.", False),
    ("We help an HR team like yours.", False),
    ("It is a unique way to close.", False),
    ("It takes a 15-minute call.", False),
    ("It takes an 8-week pilot.", False),
    ("It saves an hour a day.", False),
    ("An SDR spends hours; a CFO signs; an FAQ helps; a URL works; a SOC 2 report.", False),
    ("a user, a one-time fee, an umbrella, a European bank, an IT team", False),
    ("Plan A is cheaper.", False),
    ("It costs 山田 an 円 or two.", False),  # another script: no English rule
])
def test_article_slips(text, slip):
    assert bool(article_slips(text)) is slip, article_slips(text)


def test_wants_an_is_unsure_of_word_acronyms():
    assert wants_an("HIPAA") is None and wants_an("ROI") is True and wants_an("KPI") is False


@pytest.mark.parametrize(("body", "flagged"), [
    ("Hi翼,\n\nText.", True),
    ("HiAnn,\n\nText.", True),
    ("Hi 翼,\n\nText.", False),
    ("Hi Ann,\n\nText.", False),
    ("Hillary said so.", False),
])
def test_glued_greeting(body, flagged):
    first = "翼" if "翼" in body else "Ann"
    assert bool(glued_greeting(body, first)) is flagged


@pytest.mark.parametrize(("text", "flagged"), [
    ("We help. A recent result: Every approval took a day.", True),
    ("One example: The team cut close by a week.", True),
    ("To put a number on it: Most teams save 5 hours.", True),
    ("We help. A recent result: every approval took a day.", False),
    ("One example: Patchwell covers 900 applications.", False),  # a proper noun keeps it
    ("To put a number on it: 87% of invoices match.", False),
    ("Here is the thing: I think it fits.", False),  # "I" is always capital
])
def test_capital_after_a_lead_in_label(text, flagged):
    assert bool(label_capitals(text)) is flagged


@pytest.mark.parametrize(("text", "flagged"), [
    ("Clausecheck reads contracts.", True),
    ("CLAUSECHECK reads contracts.", True),
    ("ClauseCheck reads contracts.", False),
    ("See https://clausecheck.example/demo or write to sam@clausecheck.com.", False),
])
def test_product_casing(text, flagged):
    assert bool(name_casing(text, CLAUSE)) is flagged


@pytest.mark.parametrize(("company", "text", "flagged"), [
    # The blind read of 2026-12-07: the recipient's company in another casing.
    ("Opmans BV", "How does OPMANS BV handle renewals today?", True),
    ("deGroot Logistik", "At Degroot Logistik, renewals pile up.", True),
    ("Opmans BV", "How does Opmans BV handle renewals today?", False),
    ("Opmans BV", "Write to lea@opmans.example for details.", False),  # an address keeps its case
    ("株式会社山田", "株式会社山田の皆様へ", False),  # no case to get wrong
])
def test_the_leads_company_is_written_as_the_crm_holds_it(company, text, flagged):
    assert bool(name_casing(text, CLAUSE, company)) is flagged


@pytest.mark.parametrize(("text", "flagged"), [
    ("Would you be open to a 15-minute call next week? Or would a demo on Friday work?", True),
    ("Do you have 15 minutes this week for a quick call? Would you be open to a 15-minute "
     "call next week?", True),
    ("Would you be open to a 15-minute call next week?", False),
    ("Did you know reps lose 5 hours a week? Would you be open to a 15-minute call next week?",
     False),
])
def test_two_calls_to_action(text, flagged):
    assert bool(calls_to_action(text, CAMPAIGN)) is flagged


def test_every_style_check_runs_in_the_entry_point():
    lead = sample_leads()[0]  # Ann at Northwind Traders
    good = ("Hi Ann,\n\nAt Northwind Traders, reps spend hours writing follow-up emails. "
            "Relaywise drafts a personal follow-up for every inquiry in seconds, and teams answer "
            "inquiries 3x faster in the first month. Would you be open to a 15-minute call next "
            "week?\n\nBest,\nNoor Haddad")
    assert check_draft(Draft("An idea for Northwind Traders", good), lead, ChecksSettings(),
                       CAMPAIGN) == []
    for planted, reason in (
            (good.replace("Hi Ann", "HiAnn"), "greeting glued"),
            (good.replace("a personal", "an personal"), "article slip"),
            (good.replace("Relaywise drafts", "Relaywise helps. A recent result: Every draft"),
             "capital after a lead-in label"),
            (good.replace("Relaywise drafts", "RelayWise drafts"), "written as"),
            (good.replace("week?", "week? Or do you have 15 minutes this week for a quick call?"),
             "calls to action"),
            (good.replace("\n\nBest,", "\n\nBest,\nNoor Haddad\n\nBest,"), "sign-offs"),
            (good.replace("At Northwind", "As we discussed, at Northwind"), "earlier contact"),
            (good.replace(" Would you be open to a 15-minute call next week?", ""),
             "no call to action"),
            (good.replace("Relaywise drafts", "One of our customers, Relaywise, drafts"),
             "the product named as a customer")):
        reasons = check_draft(Draft("An idea for Northwind Traders", planted), lead,
                              ChecksSettings(), CAMPAIGN)
        assert any(reason in r for r in reasons), (reason, reasons)


# Sent drafts of the retrained miniature (blind read, 2026-12-07), and their fixed forms.
@pytest.mark.parametrize(("text", "flagged"), [
    ("Rooms booked but left empty are released automatically after ten minutes. Rooms booked "
     "but left empty are a great idea for your team.", True),
    ("Almendra Verde is in food & beverage too. The aim is to help you document water use.",
     True),
    ("Rooms booked but left empty are released automatically. Could we look at your bookings "
     "for 20 minutes next week?", False),
])
def test_an_email_that_asks_nothing(text, flagged):
    assert bool(missing_call_to_action(text)) is flagged


@pytest.mark.parametrize(("text", "flagged"), [
    ("One of our customers, Relaywise, reads the appointment book.", True),
    ("I came across Relaywise and wanted to share one idea with you.", True),
    ("One of our customers, Brightmoor Dental, recovered 60 chair hours with Relaywise.", False),
    ("I came across Northwind Traders and wanted to share one idea with you.", False),
])
def test_the_product_named_as_its_own_customer(text, flagged):
    assert bool(product_as_customer(text, CAMPAIGN)) is flagged


@pytest.mark.parametrize(("text", "industry", "flagged"), [
    # The served miniature, 2026-12-07 (held-out campaigns): the teacher's tagged sentence
    # said where it is not true.
    ("Harborview Hotels is in automotive too.", "automotive", True),  # not its tag
    ("Harborview Hotels is in travel too.", "healthcare", True),  # the lead is not in travel
    ("Harbourview Hotels is in travel too.", "travel", True),  # the customer misspelled
    ("Rooms left empty are in practice at Acme too.", "travel", True),  # a garbled join
    ("One of our customers, Lindenhof Kliniken, is in healthcare too.", "Healthcare", False),
    ("Harborview Hotels is in travel too.", "travel", False),
    ("The same is common in travel too.", "travel", False),  # no "is in ... too" claim
])
def test_a_peer_claim_only_where_a_case_study_makes_it(text, industry, flagged):
    assert bool(peer_claims(text, CAMPAIGN, industry)) is flagged, peer_claims(text, CAMPAIGN,
                                                                                industry)


def test_a_true_peer_claim_about_a_customer_with_full_stops_in_its_name_passes():
    """The teacher's dataset run found it: "s.r.l." ended the sentence a split looked for."""
    fact = CAMPAIGN.facts[2].model_copy(update={
        "customer": "Roccabonella-Prati s.r.l.", "industries": ("hospitality",),
        "text": "Roccabonella-Prati s.r.l. doubled booking replies within six weeks."})
    campaign = CAMPAIGN.model_copy(update={"case_studies": (*CAMPAIGN.case_studies, fact)})
    text = "Roccabonella-Prati s.r.l. doubled replies. Roccabonella-Prati s.r.l. is in hospitality too."
    assert peer_claims(text, campaign, "hospitality") == []
    assert peer_claims(text, campaign, "retail")  # the lead is not in hospitality


LEDGER = sample_campaign(product="Ledgerline")


@pytest.mark.parametrize(("text", "flagged"), [
    ("Leadline can also help your team stop paying the same invoice twice.", True),  # the demo
    ("Ledgerlyne reads supplier invoices.", True),
    ("Ledgerline reads supplier invoices; Ledgerline's audit log exports in one click.", False),
    ("Ledger entries close days earlier.", False),  # a word the name starts with
    ("Leading teams close the books days earlier.", False),
    ("See ledgerline.example/demo.", False),
])
def test_a_near_miss_of_the_products_name(text, flagged):
    assert bool(near_miss_names(text, LEDGER)) is flagged, near_miss_names(text, LEDGER)


@pytest.mark.parametrize(("text", "flagged"), [
    # The served miniature, 2026-12-07: a case study's customer said to be the product.
    ("Harborview Hotels is built to help companies like yours.", True),
    ("Lindenhof Kliniken can also help your team cut no-shows.", True),
    ("Harborview Hotels doubled booking replies within six weeks.", False),
    ("Relaywise is built to help companies like yours.", False),
])
def test_a_case_study_customer_is_not_the_product(text, flagged):
    assert bool(customer_as_product(text, CAMPAIGN)) is flagged


@pytest.mark.parametrize(("text", "flagged"), [
    ("One of our customers, Every Approvals, , matches invoices.", True),  # the demo with v4
    ("It works; ; it is fast.", True),
    ("It matches invoices , and routes them.", True),
    ("I am writing with a short idea for Carpio y asociados S.A....", True),  # 2026-12-08
    ("It reads invoices.. and routes them.", True),
    ("One of our customers, Harborview Hotels, doubled replies: in six weeks.", False),
])
def test_doubled_or_stray_punctuation(text, flagged):
    assert bool(doubled_punctuation(text)) is flagged


@pytest.mark.parametrize(("text", "flagged"), [
    ("I understand that atकुमार-बनर्जी, it can help.", True),  # the sequence demo with v4
    ("Hi 翼,\n\nA quick idea for 株式会社松本運輸and your team.", True),
    ("I understand that at कुमार-बनर्जी, it can help.", False),
    ("A quick idea for 株式会社松本運輸 and your team.", False),
    ("A quick idea for ABC株式会社.", False),  # the lead's company, as the CRM holds it
])
def test_a_word_glued_to_a_name_in_another_script(text, flagged):
    assert bool(glued_scripts(text, ("翼", "ABC株式会社", "कुमार-बनर्जी"))) is flagged
