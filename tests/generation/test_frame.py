"""The code-written frame: greeting and one sign-off from the lead and the campaign."""

from __future__ import annotations

import pytest

from tests.support.worker_helpers import sample_campaign
from generation.checks import parse_draft
from generation.frame import greeting, middle, signature, signed_count

CAMPAIGN = sample_campaign()  # sender Noor Haddad, Account Executive, Relaywise
BODY = "We help teams reply the same day. Would a short call next week work?"


@pytest.mark.parametrize(("language", "lead", "expected"), [
    ("en", {"first_name": "Ann"}, "Hi Ann,"),
    ("en", {"first_name": "太郎"}, "Hi 太郎,"),      # a space, never "Hi太郎,"
    ("en", {"first_name": "翼"}, "Hi 翼,"),
    ("en", {"first_name": "Zoë"}, "Hi Zoë,"),
    ("en", {"first_name": "  Zoe\u0308 "}, "Hi Zoë,"),  # NFC, as written
    ("en", {"first_name": ""}, "Hi there,"),
    ("ja", {"first_name": "太郎", "last_name": "山田"}, "山田様"),  # family name, no space
    ("ja", {"first_name": "太郎"}, "太郎様"),
    ("ko", {"first_name": "서연"}, "서연님, 안녕하세요."),
    ("de", {"first_name": "Jürgen"}, "Hallo Jürgen,"),
    ("en-GB", {"first_name": "Seán"}, "Hi Seán,"),
    ("xx", {"first_name": "Ann"}, "Hi Ann,"),  # unknown language: English
])
def test_greeting_follows_the_campaign_language(language, lead, expected):
    assert greeting(lead, sample_campaign(language=language)) == expected


def test_signature_has_the_title_only_where_the_campaign_says_so():
    assert signature(CAMPAIGN) == "Best,\nNoor Haddad"
    titled = sample_campaign(sender={**CAMPAIGN.sender.model_dump(), "title_in_signature": True})
    assert signature(titled) == "Best,\nNoor Haddad\nAccount Executive, Relaywise"
    assert signature(sample_campaign(language="ja")) == "よろしくお願いいたします。\nNoor Haddad"


@pytest.mark.parametrize("written", [
    f"Hi Ann,\n\n{BODY}\n\nBest,\nNoor Haddad",
    f"Hi Ann,\n\n{BODY}\n\nBest,\nNoor Haddad\n\nBest,\nNoor Haddad",  # two sign-offs
    f"Hi Ann,\n\n{BODY}\n\nBest regards,\nJohn Smith\nCEO",  # another name
    f"Hello Ann!\n\n{BODY}\n\nThanks,\n\nNoor Haddad",
    f"Hi Ann, {BODY}\n\n--\nNoor Haddad",
    f"Hi Ann,\n\n{BODY}\nNoor Haddad\nP.S. more",
    f"{BODY}\n\nCheers",
])
def test_the_models_greeting_and_sign_offs_are_replaced_by_one_block(written):
    draft = parse_draft("", f"Subject: Idea\n\n{written}", {"first_name": "Ann"}, CAMPAIGN)
    assert draft.body == f"Hi Ann,\n\n{BODY}\n\nBest,\nNoor Haddad"
    assert draft.complete
    assert signed_count(draft.body, "Noor Haddad") == 1


def test_a_glued_greeting_is_stripped_and_written_with_a_space():
    draft = parse_draft("", f"Subject: Idea\n\nHi翼,\n\n{BODY}\n\nBest,\nNoor Haddad",
                        {"first_name": "翼"}, CAMPAIGN)
    assert draft.body.startswith(f"Hi 翼,\n\n{BODY[:10]}")


def test_body_words_are_kept():
    # "Hillary" is no greeting; a last sentence right above the name stays.
    text, signed = middle("Hillary Clinton once said it.\nNoor Haddad", CAMPAIGN)
    assert (text, signed) == ("Hillary Clinton once said it.", True)


def test_signed_count():
    assert signed_count("Text.\n\nBest,\nNoor Haddad", "Noor Haddad") == 1
    assert signed_count("Text.\n\nBest,\nJohn\n\nBest,\nNoor Haddad", "Noor Haddad") == 2
    assert signed_count("Text.", "Noor Haddad") == 0
