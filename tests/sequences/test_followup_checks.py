"""The one checks entry point on follow-ups (steps 2 and 3): nothing the previous email said
again, and no contact beyond the thread's own earlier email.

A first email may not say "my note last week" (there was none); a follow-up may, and nothing
more: a call, a meeting, a promise or the recipient's reply stays a false claim (a reply would
have stopped the sequence). The bodies are the shape the served miniature writes.
"""

from __future__ import annotations

import pytest

from generation.checks import check_draft
from generation.draft import Draft
from outreach.settings import ChecksSettings
from tests.support.worker_helpers import sample_campaign, sample_leads

CAMPAIGN = sample_campaign()
LEAD = sample_leads()[0]  # Ann at Northwind Traders
SUBJECT = "Re: An idea for Northwind Traders"
FIRST = ("Hi Ann,\n\nAt Northwind Traders, reps spend hours writing follow-up emails. Relaywise "
         "drafts a personal follow-up for every inquiry in seconds, and teams answer inquiries "
         "3x faster in the first month. Would you be open to a 15-minute call next week?"
         "\n\nBest,\nNoor Haddad")
BUMP = ("Hi Ann,\n\n{opening} Teams using Relaywise answer inquiries 3x faster in the first "
        "month. Would you be open to a 15-minute call next week?\n\nBest,\nNoor Haddad")


def request(step: int, previous: str = FIRST) -> dict:
    return {"lead": LEAD, "withheld": {}, "step": step, "previous_subject": SUBJECT[4:],
            "previous_body": previous if step > 1 else "", "thread_draft_ids": []}


def reasons(body: str, step: int) -> list[str]:
    return check_draft(Draft(SUBJECT, body), request(step), ChecksSettings(), CAMPAIGN)


def test_a_follow_up_that_says_something_new_passes() -> None:
    body = BUMP.format(opening="A short note in case my last email got buried.")
    assert reasons(body, 2) == []


@pytest.mark.parametrize("opening", [
    "I wanted to follow up on my note last week.",
    "Following up on my previous email.",
    "In case you missed my note, here is the short version.",
    "Did you have a chance to read it?",
])
def test_the_thread_makes_its_own_earlier_email_true_from_step_2_only(opening: str) -> None:
    body = BUMP.format(opening=opening)
    assert reasons(body, 2) == [] and reasons(body, 3) == []
    assert any("earlier contact" in r for r in reasons(body, 1))  # a first email: false


@pytest.mark.parametrize("opening", [
    "Great speaking with you at the conference.",
    "Thanks for your reply last week.",
    "As we discussed on our call, here is the summary.",
    "As promised, here are the numbers.",
    "Following up on our call on Tuesday.",
])
def test_contact_beyond_the_thread_is_still_a_false_claim(opening: str) -> None:
    assert any("earlier contact" in r for r in reasons(BUMP.format(opening=opening), 2)), opening


def test_a_follow_up_that_repeats_the_previous_email_is_rejected() -> None:
    body = BUMP.format(opening="Relaywise drafts a personal follow-up for every inquiry in "
                               "seconds, and teams answer inquiries 3x faster in the first month.")
    found = reasons(body, 2)
    assert any(r.startswith("repeats the previous email") for r in found), found
    # the same body as a first email repeats nothing (there is no previous email)
    assert not any(r.startswith("repeats") for r in reasons(body, 1))
