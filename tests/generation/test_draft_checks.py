"""Parsing generated text and each check, one planted defect at a time, through the one
checks entry point (generation.checks)."""

from __future__ import annotations

import pytest

from tests.support.worker_helpers import sample_campaign, sample_leads
from outreach.errors import DraftRejected
from outreach.settings import ChecksSettings
from generation.checks import CUT_OFF, check_draft, parse_and_check, parse_draft
from generation.draft import Draft, check

LEAD = sample_leads()[0]  # Ann at Northwind Traders
CAMPAIGN = sample_campaign()  # signed by "Noor Haddad"
SENDER = "Noor Haddad"
PREFILL = "Subject: A quick idea for Northwind Traders\n\nHi Ann,\n\nI noticed that one challenge at Northwind Traders is"
GOOD = (" reps spend hours writing follow-up emails. We help sales teams send short, personal "
        "follow-ups in minutes, so your reps can spend their time on calls instead of typing. "
        "Would you be open to a 15-minute call next week?\n\nBest,\nNoor Haddad")


def _reasons(body_edit=None, subject=None, checks=None, lead=LEAD, campaign=CAMPAIGN) -> list[str]:
    draft = parse_draft(PREFILL, GOOD, LEAD, CAMPAIGN)
    body = body_edit(draft.body) if body_edit else draft.body
    return check_draft(Draft(subject=draft.subject if subject is None else subject, body=body),
                       lead, checks or ChecksSettings(), campaign)


def test_a_good_draft_passes():
    draft = parse_and_check(PREFILL, GOOD, LEAD, ChecksSettings(), CAMPAIGN)
    assert draft.subject == "A quick idea for Northwind Traders"
    assert draft.body.startswith("Hi Ann,\n\nI noticed that one challenge at Northwind")
    assert draft.body.endswith("Best,\nNoor Haddad")


@pytest.mark.parametrize("tail", [
    "\n###\nLead: {\"first_name\": \"Bob\"}\nEmail:\nSubject: x",
    "\n\nLead: {\"first_name\": \"Bob\"}",
    "\nEvidence: [{\"id\": \"x\"}]",
    "\nCampaign: {\"product\": \"Other\"}",
    "\nSubject: A second email\n\nHi Bob,",
    "\n\nP.S. Here is a long unrelated story about the weather.",
    "<end_of_turn>\nmore",
])
def test_trailing_garbage_is_trimmed(tail):
    assert parse_draft(PREFILL, GOOD + tail, LEAD, CAMPAIGN) == parse_draft(PREFILL, GOOD, LEAD,
                                                                            CAMPAIGN)


@pytest.mark.parametrize(("body", "complete", "ended"), [
    ("Text.\n\nBest regards,\nNoor Haddad\nSam's cat", True, True),
    ("Text.\n\n--\nNoor Haddad", True, True),
    ("Would you be open to a call?", True, True),   # a final sentence: the code signs it
    ("Would you be open to a call?", False, False),  # hit max_tokens before signing off
    ("Would you be open to a call?\n\nBest,\nNoor Haddad", False, True),  # signed, then ran on
    ("We can help you with", True, False),  # cut mid-sentence
])
def test_a_cut_off_body_is_incomplete_and_fails(body, complete, ended):
    draft = parse_draft("Subject: Idea\n\nHi Ann,\n\n", body, LEAD, CAMPAIGN, complete)
    assert draft.complete is ended
    assert draft.body.endswith("\n\nBest,\nNoor Haddad")  # the code's one sign-off, always
    reasons = check_draft(draft, LEAD, ChecksSettings(), CAMPAIGN)
    assert (CUT_OFF in reasons) is not ended


def test_an_unsigned_body_fails_the_check():
    assert any("no sign-off" in r for r in _reasons(lambda b: b.replace("\n\nBest,\nNoor Haddad", "")))
    assert any("no sign-off" in r for r in _reasons(lambda b: b.replace("Noor Haddad", "John")
                                                    .replace("Best,", "Hello")))


def test_missing_subject_line_is_rejected():
    with pytest.raises(DraftRejected) as info:
        parse_draft("Hi Ann,\n\n", GOOD, LEAD, CAMPAIGN)
    assert info.value.reasons == ["missing subject line"]


def test_each_check_can_fail():
    checks = ChecksSettings(allowed_urls=["https://ok.example/"])
    assert any("subject too long" in r for r in _reasons(campaign=sample_campaign(subject_max_chars=20)))
    assert any(r == "empty subject" for r in _reasons(subject=""))
    assert any("body too short" in r for r in _reasons(lambda b: f"Hi Ann, Northwind Traders.\n\nBest,\n{SENDER}"))
    assert any("body too long" in r for r in _reasons(lambda b: b.replace("Would", "word " * 300)))
    assert any("body too long" in r for r in _reasons(campaign=sample_campaign(body_max_words=30)))
    assert any("no sign-off" in r for r in _reasons(lambda b: b.replace(f"\n\nBest,\n{SENDER}", "")))
    for planted in ("[Name]", "{company}", "<First Name>", "{{first_name}}"):
        found = _reasons(lambda b, p=planted: b.replace("reps spend", f"{p} reps spend"))
        assert any("placeholder" in r for r in found), planted
    bad_url = _reasons(lambda b: b.replace("Would", "See https://evil.example/x. Would"), checks=checks)
    assert any("URL not allowed" in r for r in bad_url)
    good_url = _reasons(lambda b: b.replace("Would", "See https://ok.example/demo. Would"), checks=checks)
    assert not any("URL" in r for r in good_url)
    assert any("URL not allowed" in r for r in _reasons(lambda b: b + " www.evil.example"))
    # A host that merely starts with the allowed one is another host (was a raw-prefix match).
    lookalike = _reasons(lambda b: b.replace("Would", "See https://ok.example.evil.net/x. Would"),
                         checks=checks)
    assert any("URL not allowed" in r for r in lookalike)
    # The campaign's own allowed URLs count too (the worker's untrusted-link check used to
    # know only the global list and rejected them).
    own = sample_campaign(allowed_urls=["https://relaywise.example/"])
    assert not _reasons(lambda b: b.replace("Would", "See https://relaywise.example/a. Would"),
                        campaign=own)
    assert not _reasons(lambda b: b.replace("Would", "See relaywise.example for more. Would"),
                        campaign=own)
    assert any("not allowed" in r for r in _reasons(
        lambda b: b.replace("Would", "See evil.com for more. Would"), campaign=own))
    assert any("first name" in r for r in _reasons(lambda b: b.replace("Ann", "Bob")))
    assert any("company" in r for r in _reasons(lambda b: b.replace("Northwind Traders", "them"),
                                                subject="Hello"))
    for contact in ("info@northwind.example", "+1 (208) 493-7867", "646-702-1234"):
        found = _reasons(lambda b, c=contact: b.replace("Would", f"Reach me at {c}. Would"))
        assert any("contact details" in r for r in found), contact
    assert any("leaked" in r for r in _reasons(lambda b: b.replace("Would", "Email: Would")))
    assert any("leaked" in r for r in _reasons(lambda b: b.replace("Would", "Evidence: Would")))
    repeated = "We help sales teams grow every single week. "
    assert any("repeated sentence" in r for r in _reasons(lambda b: b.replace("Would", repeated * 2 + "Would")))


def test_copying_a_few_shot_example_is_rejected():
    copied = lambda b: b.replace("We help", "With a team of 40, chasing each patient by phone takes hours. We help")
    assert any("copies a few-shot example" in r for r in _reasons(copied))
    # The generic closing question of an example may be reused.
    assert _reasons(lambda b: b.replace("Would you be open to a 15-minute call next week?",
                                        "Do you have 15 minutes this week for a quick call?")) == []


def test_all_failures_are_reported_together():
    with pytest.raises(DraftRejected) as info:
        parse_and_check("Subject:\n\nHi,\n\n", "[Name], call me.", LEAD, ChecksSettings(), CAMPAIGN)
    reasons = info.value.reasons
    assert len(reasons) >= 4
    assert {"empty subject"} <= set(reasons)
    assert str(info.value) == "; ".join(reasons)


NON_LATIN = [("Анна", "ООО «Северный Ветер»"), ("美咲", "株式会社さくら商事"), ("서연", "한빛테크 주식회사"),
             ("فاطمة", "شركة الأفق للتجارة"), ("प्रिया", "शर्मा इंडस्ट्रीज़"), ("Stanisław", "Łódź Metal sp. z o.o."),
             ("Zoë", "Müller GmbH & Co. KG"), ("Seán", "O'Brien & Daughters Ltd."), ("Thảo", "Công ty TNHH Bình Minh")]


@pytest.mark.parametrize(("first", "company"), NON_LATIN)
def test_names_in_any_script_are_found_exactly_as_written(first, company):
    # draft.check alone: the name checks, whichever frame wrote the greeting
    lead = {**LEAD, "first_name": first, "company": company}
    body = (f"Hi {first},\n\nI noticed that at {company}, reps spend hours writing follow-up "
            "emails every week and replies slip. Teams answer inquiries 3x faster in the first "
            "month with Relaywise. Would you be open to a 15-minute call next week?"
            f"\n\nBest,\n{SENDER}")
    assert check(Draft(subject=f"An idea for {company}"[:80], body=body), lead, ChecksSettings(),
                 CAMPAIGN) == []
    # A decomposed spelling (NFD, as some CRMs export) is the same name.
    import unicodedata
    nfd = {**lead, "first_name": unicodedata.normalize("NFD", first)}
    assert check(Draft(subject=f"An idea for {company}"[:80], body=body), nfd, ChecksSettings(),
                 CAMPAIGN) == []
    other = body.replace(f"Hi {first},", "Hi there,")
    assert any("first name" in r for r in check(Draft("Idea", other), lead, ChecksSettings(),
                                                 CAMPAIGN))


def test_one_fact_told_twice_under_two_lead_ins_is_rejected():
    fact = "Patchwell covers Windows, macOS and more than 900 third-party applications."
    twice = _reasons(lambda b: b.replace("Would", f"To put a number on it: {fact} "
                                                  f"A recent result: {fact} Would"))
    assert any("repeated sentence" in r and "patchwell covers" in r for r in twice)
    once = _reasons(lambda b: b.replace("Would", f"To put a number on it: {fact} Would"))
    assert not any("repeated" in r for r in once)


def test_a_company_named_twice_in_a_script_with_combining_marks_is_not_a_repeat():
    # Devanagari vowel signs are not \w: a 4-word name used to count as 9 words, so naming the
    # company twice read as one fact told twice. The same name twice in Latin is fine, too.
    for company in ("कलिता, सेनगुप्ता and सरकार", "Kalita, Sengupta and Sarkar"):
        lead = {**LEAD, "company": company}
        twice = _reasons(lambda b: b.replace("Would", f"Since {company} works in retail, I "
                                             f"thought of you. For {company}, that could mean "
                                             "fewer late nights. Would"), lead=lead)
        assert not any("repeated" in r for r in twice), (company, twice)
    told_twice = "कलिता सेनगुप्ता सरकार में हर महीने सभी चालान देर से आते हैं"
    again = _reasons(lambda b: b.replace("Would", f"{told_twice}. यानी {told_twice}. Would"))
    assert any("repeated sentence" in r for r in again)


@pytest.mark.parametrize("claim, notes, flagged", [
    ("You asked about invoice matching, so I will keep this short.", None, True),
    ("You asked about invoice matching, so I will keep this short.", "asked about invoice matching", False),
    ("Thanks for reaching out.", "asked about pricing", True),  # never true of a cold lead
    ("It was good to meet you at SaaStr.", None, True),
    ("It was good to meet you at SaaStr.", "met at SaaStr", False),
    ("Thanks for downloading our guide.", "downloaded the AP guide", False),
    ("As we discussed, the pilot is free.", None, True),
    ("Thank you for applying to the finance team at Helix.", None, True),
    ("We help teams applying for grants.", None, False),
    ("I noticed that reps spend hours on email.", None, False),
])
def test_earlier_contact_needs_a_crm_note(claim, notes, flagged):
    lead = dict(LEAD, notes=notes)
    reasons = _reasons(lambda b: b.replace("Would", f"{claim} Would"), lead=lead)
    assert any("claims earlier contact" in r for r in reasons) is flagged, reasons


def test_a_company_with_many_full_stops_named_twice_is_not_a_repeat():
    lead = dict(LEAD, company="Albin-Jantos Sp. z o.o. Sp.k.")
    body = ("Hi Ann,\n\nI came across Albin-Jantos Sp. z o.o. Sp.k. and wanted to share one idea "
            "with you. Relaywise drafts a personal follow-up for every inquiry in seconds. For the "
            "team at Albin-Jantos Sp. z o.o. Sp.k. that means same-day replies. Would you be open "
            "to a 15-minute call next week?\n\nBest,\nNoor Haddad")
    reasons = check(Draft(subject="A quick idea", body=body), lead, ChecksSettings(), CAMPAIGN)
    assert not [r for r in reasons if "repeated" in r], reasons
    looping = body.replace("For the team", "Relaywise drafts a personal follow-up for every "
                           "inquiry in seconds. For the team")
    assert [r for r in check(Draft(subject="A quick idea", body=looping), lead, ChecksSettings(),
                             CAMPAIGN) if "repeated" in r]
