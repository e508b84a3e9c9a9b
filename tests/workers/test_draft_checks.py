"""Parsing generated text and each check, one planted defect at a time."""

from __future__ import annotations

import pytest

from worker_helpers import sample_leads
from outreach.errors import DraftRejected
from outreach.settings import ChecksSettings
from workers.draft import Draft, check, parse, parse_and_check, sign_off

LEAD = sample_leads()[0]  # Ann at Northwind Traders
PREFILL = "Subject: A quick idea for Northwind Traders\n\nHi Ann,\n\nI noticed that one challenge at Northwind Traders is"
GOOD = (" reps spend hours writing follow-up emails. We help sales teams send short, personal "
        "follow-ups in minutes, so your reps can spend their time on calls instead of typing. "
        "Would you be open to a 15-minute call next week?\n\nBest,\nSam")


def _reasons(body_edit=None, subject=None, checks=None, lead=LEAD) -> list[str]:
    draft = parse(PREFILL, GOOD)
    body = body_edit(draft.body) if body_edit else draft.body
    return check(Draft(subject=draft.subject if subject is None else subject, body=body), lead,
                 checks or ChecksSettings())


def test_a_good_draft_passes():
    draft = parse_and_check(PREFILL, GOOD, LEAD, ChecksSettings())
    assert draft.subject == "A quick idea for Northwind Traders"
    assert draft.body.startswith("Hi Ann,\n\nI noticed that one challenge at Northwind")
    assert draft.body.endswith("Best,\nSam")


@pytest.mark.parametrize("tail", [
    "\n###\nLead: {\"first_name\": \"Bob\"}\nEmail:\nSubject: x",
    "\n\nLead: {\"first_name\": \"Bob\"}",
    "\nSubject: A second email\n\nHi Bob,",
    "\n\nP.S. Here is a long unrelated story about the weather.",
    "<end_of_turn>\nmore",
])
def test_trailing_garbage_is_trimmed(tail):
    assert parse(PREFILL, GOOD + tail) == parse(PREFILL, GOOD)


@pytest.mark.parametrize(("body", "complete", "expected"), [
    ("Text.\n\nBest regards,\nSam\nSam's cat", True, "Text.\n\nBest regards,\nSam"),
    ("Text.\n\n--\nSam", True, "Text.\n\nBest,\nSam"),
    ("Text.\n\n--\nBest,\nSam\n\nMore.", True, "Text.\n\nBest,\nSam"),
    ("Text?\n\nThanks for your time!\nSam", True, "Text?\n\nThanks for your time!\nSam"),
    ("Would you be open to a call?", True, "Would you be open to a call?\n\nBest,\nSam"),
    ("Would you be open to a call?", False, "Would you be open to a call?"),  # hit max_tokens
    ("We can help you with", True, "We can help you with"),  # cut mid-sentence
    ("Text.\n\nBest,\nJohn", True, "Text.\n\nBest,\nJohn"),  # not signed by the sender
])
def test_sign_off_is_normalized_or_missing(body, complete, expected):
    assert sign_off(body, complete) == expected


def test_an_unsigned_or_cut_off_body_fails_the_check():
    for body in ("We can help you with", "Text.\n\nBest,\nJohn"):
        assert any("no sign-off" in r for r in _reasons(lambda b, body=body: "Hi Ann, " + body))


def test_missing_subject_line_is_rejected():
    with pytest.raises(DraftRejected) as info:
        parse("Hi Ann,\n\n", GOOD)
    assert info.value.reasons == ["missing subject line"]


def test_each_check_can_fail():
    checks = ChecksSettings(subject_max_chars=20, allowed_urls=["https://ok.example/"])
    assert any("subject too long" in r for r in _reasons(checks=checks))
    assert any(r == "empty subject" for r in _reasons(subject=""))
    assert any("body too short" in r for r in _reasons(lambda b: "Hi Ann, Northwind Traders.\n\nBest,\nSam"))
    assert any("body too long" in r for r in _reasons(lambda b: b.replace("Would", "word " * 300)))
    assert any("no sign-off" in r for r in _reasons(lambda b: b.replace("\n\nBest,\nSam", "")))
    for planted in ("[Name]", "{company}", "<First Name>", "{{first_name}}"):
        found = _reasons(lambda b, p=planted: b.replace("reps spend", f"{p} reps spend"))
        assert any("placeholder" in r for r in found), planted
    bad_url = _reasons(lambda b: b.replace("Would", "See https://evil.example/x. Would"), checks=checks)
    assert any("URL not allowed" in r for r in bad_url)
    good_url = _reasons(lambda b: b.replace("Would", "See https://ok.example/demo. Would"), checks=checks)
    assert not any("URL" in r for r in good_url)
    assert any("URL not allowed" in r for r in _reasons(lambda b: b + " www.evil.example"))
    assert any("first name" in r for r in _reasons(lambda b: b.replace("Ann", "Bob")))
    assert any("company" in r for r in _reasons(lambda b: b.replace("Northwind Traders", "them"),
                                                subject="Hello"))
    for contact in ("info@northwind.example", "+1 (208) 493-7867", "646-702-1234"):
        found = _reasons(lambda b, c=contact: b.replace("Would", f"Reach me at {c}. Would"))
        assert any("contact details" in r for r in found), contact
    assert any("leaked" in r for r in _reasons(lambda b: b.replace("Would", "Email: Would")))
    repeated = "We help sales teams grow every single week. "
    assert any("repeated sentence" in r for r in _reasons(lambda b: b.replace("Would", repeated * 2 + "Would")))


def test_copying_a_few_shot_example_is_rejected():
    copied = lambda b: b.replace("We help", "With a team of 40, writing reminders by hand takes hours. We help")
    assert any("copies a few-shot example" in r for r in _reasons(copied))
    # The generic closing question of an example may be reused.
    assert _reasons(lambda b: b.replace("Would you be open to a 15-minute call next week?",
                                        "Do you have 15 minutes this week for a quick call?")) == []


def test_all_failures_are_reported_together():
    with pytest.raises(DraftRejected) as info:
        parse_and_check("Subject:\n\nHi,\n\n", "[Name], call me.", LEAD, ChecksSettings())
    reasons = info.value.reasons
    assert len(reasons) >= 4
    assert {"empty subject"} <= set(reasons)
    assert str(info.value) == "; ".join(reasons)
