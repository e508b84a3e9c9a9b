"""Campaign steps (and their schema evolution), business days, the follow-up prompt line, the
kept subject and the threading headers."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timezone

import pytest

from generation.followup import (PREVIOUS_BODY_MAX_CHARS, draft_fields, followup_line,
                                 opening, repeated_from_previous, thread_subject,
                                 with_previous_email)
from generation.prompt import TRAINED_CUE, build_prompt
from mail.message import build_message, message_id
from outreach.errors import CampaignError
from outreach.settings import load_settings
from schemas.campaign import Campaign, Step, parse_campaign
from schemas.codec import AVRO_DIR, AvroCodec
from sequences.clock import Clock, add_business_days
from seq_support import draft_for, first_request, lead
from tests.support.campaigns import example_campaign

WEEKDAYS = (0, 1, 2, 3, 4)


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp() * 1000)


def test_business_days_skip_the_weekend() -> None:
    thursday = ms("2026-12-03T10:00:00")
    assert add_business_days(thursday, 2, WEEKDAYS) == ms("2026-12-07T10:00:00")  # Monday
    saturday = ms("2026-12-05T09:00:00")
    assert add_business_days(saturday, 1, WEEKDAYS) == ms("2026-12-08T09:00:00")  # Tuesday
    assert add_business_days(thursday, 0, WEEKDAYS) == thursday


def test_the_virtual_clock_runs_fast_from_its_epoch() -> None:
    clock = Clock(speed=1000.0, epoch_ms=1_000_000)
    assert clock.virtual(1_000_000) == 1_000_000
    assert clock.virtual(1_000_010) == 1_010_000
    assert clock.real_s(86_400_000) == pytest.approx(86.4)


def old_campaign_schema() -> dict:
    """campaign.avsc as it was before sequences: without ``steps``."""
    raw = json.loads((AVRO_DIR / "campaign.avsc").read_text())
    old = copy.deepcopy(raw)
    old["fields"] = [f for f in old["fields"] if f["name"] != "steps"]
    assert len(old["fields"]) == len(raw["fields"]) - 1
    return old


def test_a_campaign_written_before_steps_reads_as_one_step() -> None:
    codec = AvroCodec()
    old = codec.store.add(old_campaign_schema())
    record = example_campaign("old-one").to_record()
    record.pop("steps")
    decoded = codec.decode(codec.encode("Campaign", record, schema=old), "Campaign")
    assert decoded["steps"] == []
    campaign = Campaign.from_record(decoded)
    assert campaign.steps == () and campaign.sequence == (Step(delay_business_days=0),)


def test_steps_round_trip_and_are_validated() -> None:
    steps = [{"delay_business_days": 0}, {"delay_business_days": 3, "brief": "a short bump"}]
    campaign = example_campaign("seq-rt", steps=tuple(Step(**s) for s in steps))
    codec = AvroCodec()
    decoded = codec.decode(codec.encode("Campaign", campaign.to_record()), "Campaign")
    assert Campaign.from_record(decoded).steps == campaign.steps
    data = campaign.to_record()
    for bad, reason in (([{"delay_business_days": 2}], "delay_business_days is 0"),
                        ([{"delay_business_days": 0}, {"delay_business_days": 0}],
                         "at least one business day")):
        with pytest.raises(CampaignError, match=reason):
            parse_campaign({**data, "steps": bad})


def follow_up_request(campaign: Campaign) -> dict:
    request = first_request(lead("l-1", campaign.campaign_id, "ana@acme.example"))
    return {**request, "step": 2, "previous_subject": "Invoice matching at Acme",
            "previous_body": "Hi Ana,\n\nLedgerline matches 87% of invoices.\n\nBest,\nPriya",
            "thread_draft_ids": ["drf-aaa"]}


def test_the_follow_up_prompt_quotes_the_previous_email_after_the_shared_prefix() -> None:
    campaign = example_campaign("seq-p", steps=(Step(delay_business_days=0),
                                                Step(delay_business_days=2, brief="a short bump")))
    request = follow_up_request(campaign)
    settings = load_settings()
    first = build_prompt(request["lead"], campaign, None, settings)
    second = with_previous_email(first, request, campaign, TRAINED_CUE)
    line = followup_line(request, campaign)
    assert line.startswith("Follow-up: ") and "a short bump" in line and "87% of invoices" in line
    assert second.text.count(line) == 1 and second.text.endswith(TRAINED_CUE + second.prefill)
    assert second.static_prefix == first.static_prefix and second.prompt_hash != first.prompt_hash
    assert with_previous_email(first, {**request, "step": 1}, campaign, TRAINED_CUE) is first


def test_a_follow_up_keeps_the_subject_and_threads_under_the_first_email() -> None:
    campaign = example_campaign("seq-t")
    request = follow_up_request(campaign)
    assert thread_subject(request, "Something new") == "Re: Invoice matching at Acme"
    assert thread_subject({**request, "previous_subject": "Re: X"}, "Y") == "Re: X"
    assert thread_subject({**request, "step": 1}, "Fresh") == "Fresh"
    assert draft_fields(request) == {"step": 2, "thread_draft_ids": ["drf-aaa"]}
    first = draft_for(first_request(lead("l-1", "seq-t", "ana@acme.example")))
    second = draft_for({**request, "thread_draft_ids": [first["draft_id"]]})
    from_address = "Priya <priya@ledgerline.example>"
    msg1, msg2 = build_message(first, from_address), build_message(second, from_address)
    assert "In-Reply-To" not in msg1 and "References" not in msg1
    assert msg2["In-Reply-To"] == msg1["Message-ID"] == message_id(first["draft_id"],
                                                                   msg1["From"])
    assert msg2["References"] == msg1["Message-ID"]
    assert msg2["Subject"] == "Re: Invoice matching at Acme"


def test_the_quoted_previous_email_is_its_opening_within_the_context_budget() -> None:
    body = "Hi Ana,\n\n" + "Ledgerline reads supplier invoices and matches them. " * 20 + \
        "\n\nBest,\nPriya"
    quoted = opening(body)
    assert not quoted.startswith("Hi Ana") and quoted.startswith("Ledgerline reads")
    assert len(quoted) <= PREVIOUS_BODY_MAX_CHARS + 4 and quoted.endswith(" ...")


def test_a_follow_up_line_shrinks_until_the_prompt_fits() -> None:
    campaign = example_campaign("seq-f", steps=(Step(delay_business_days=0),
                                                Step(delay_business_days=2, brief="a bump")))
    request = follow_up_request(campaign)
    first = build_prompt(request["lead"], campaign, None, load_settings())
    full = with_previous_email(first, request, campaign, TRAINED_CUE)
    budget = len(full.text) - 1  # characters standing in for tokens: the full line is too long
    shorter = with_previous_email(first, request, campaign, TRAINED_CUE,
                                  fits=lambda text: len(text) <= budget)
    assert len(first.text) < len(shorter.text) <= budget and "Follow-up: " in shorter.text
    brief_only = with_previous_email(first, request, campaign, TRAINED_CUE,
                                     fits=lambda text: "previous_email" not in text)
    assert "a bump" in brief_only.text and "previous_email" not in brief_only.text
    assert with_previous_email(first, request, campaign, TRAINED_CUE,
                               fits=lambda text: False) is first


def test_a_follow_up_that_repeats_the_previous_email_is_caught() -> None:
    request = follow_up_request(example_campaign("seq-r"))
    request["previous_body"] = ("Hi Ana,\n\nLedgerline matches 87% of invoices to purchase "
                                "orders without a person. Worth a look?\n\nBest,\nPriya")
    same = "Hi Ana,\n\nLedgerline matches 87% of invoices to purchase orders without a person."
    new = "Hi Ana,\n\nOne number I left out: month-end close took Voss Metallbau two days less."
    assert repeated_from_previous(request, same) == [
        "Ledgerline matches 87% of invoices to purchase orders without a person."]
    assert repeated_from_previous(request, new) == []
    assert repeated_from_previous({**request, "step": 1}, same) == []
