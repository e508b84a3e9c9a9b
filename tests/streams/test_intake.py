"""Intake decisions against a real Redis (the session's embedded stack)."""

import asyncio
import json

import pytest

from outreach.leadgen import generate, to_json
from outreach.store import IntakeStore, SyncStore
from schemas.codec import AvroCodec
from streams.intake import Intake, RawRecord
from tests.support.campaigns import publish_example


def decide_all(settings, records):
    async def run():
        store = IntakeStore(settings)
        intake = Intake(settings, store)
        try:
            return [await intake.decide(raw, None, topic, 0, offset)
                    for offset, (topic, raw) in enumerate(records)]
        finally:
            intake.close()
            await store.close()
    return asyncio.run(run())


@pytest.fixture()
def leads(settings, unique):
    publish_example(settings, f"camp-{unique}")
    return generate(3, seed=3, campaign=f"camp-{unique}").leads


def test_valid_leads_are_routed_as_requests(settings, leads):
    codec = AvroCodec()
    decisions = decide_all(settings, [("leads", codec.encode("Lead", leads[0])),
                                      ("leads.json", to_json(leads[1]))])
    assert [d.outcome for d in decisions] == ["routed", "routed"]
    request = codec.decode(decisions[0].value, "GenerationRequest")
    assert request["lead"]["email"] == leads[0]["email"]
    assert decisions[0].topic == f"email.requests.{request['tier']}"
    assert decisions[0].key == leads[0]["lead_id"].encode()


@pytest.mark.parametrize("raw, reason", [
    (b"{not json", "invalid JSON"),
    (json.dumps({"lead_id": "x"}).encode(), "missing required field"),
    (None, "tombstone"),
])
def test_malformed_records_become_dead_letters_with_reason_and_raw_bytes(settings, raw, reason):
    (decision,) = decide_all(settings, [("leads.json", raw)])
    assert decision.outcome == "dead_lettered" and decision.topic == "dlq.leads.json"
    letter = AvroCodec().decode(decision.value, "DeadLetter")
    assert reason in letter["error"] and letter["value"] == raw
    assert letter["source_topic"] == "leads.json" and letter["stage"] == "intake"


def test_business_rules_reject_bad_addresses_and_scores(settings, leads):
    bad = dict(leads[0], email="nobody", lead_score=140)
    (decision,) = decide_all(settings, [("leads.json", to_json(bad))])
    assert decision.outcome == "dead_lettered"
    assert "email" in decision.reason and "lead_score" in decision.reason


def test_duplicates_are_dropped_but_a_redelivery_of_the_same_record_is_not(settings, leads):
    raw = to_json(leads[0])
    first, dup = decide_all(settings, [("leads.json", raw), ("leads.json", raw)])
    assert (first.outcome, dup.outcome) == ("routed", "duplicate")
    # Same topic/partition/offset as the first claim: a crash redelivery, routed again.
    (redelivered,) = decide_all(settings, [("leads.json", raw)])
    assert redelivered.outcome == "routed"


def test_suppressed_addresses_and_domains_are_never_routed(settings, leads):
    sync = SyncStore(settings)
    sync.suppress(leads[0]["email"].upper(), leads[1]["email"].split("@")[1])
    decisions = decide_all(settings, [("leads.json", to_json(lead)) for lead in leads])
    assert [d.outcome for d in decisions[:2]] == ["suppressed", "suppressed"]
    assert decisions[2].outcome in {"routed", "suppressed"}
    if leads[2]["email"].split("@")[1] != leads[1]["email"].split("@")[1]:
        assert decisions[2].outcome == "routed"
    sync.close()


def test_ab_arms_split_traffic_deterministically_when_enabled(settings, unique):
    from outreach.settings import ABTestSettings, VariantSpec

    ab = ABTestSettings(enabled=True, champion="control",
                        variants=[VariantSpec(name="control"), VariantSpec(name="mini-v2")])
    settings = settings.model_copy(update={"abtest": ab})
    publish_example(settings, f"ab-{unique}")
    leads = generate(40, seed=9, campaign=f"ab-{unique}").leads
    records = [("leads.json", to_json(lead)) for lead in leads]
    codec = AvroCodec()
    first = [codec.decode(d.value, "GenerationRequest")["variant"]
             for d in decide_all(settings, records)]
    assert set(first) == {"control", "mini-v2"}
    assert 10 <= first.count("mini-v2") <= 30  # an even split of 40, give or take chance
    # The same records redelivered (same offsets) land in the same arms.
    again = [codec.decode(d.value, "GenerationRequest")["variant"]
             for d in decide_all(settings, records)]
    assert again == first


def test_a_batch_is_decided_in_order_with_duplicates_inside_it_caught(settings, unique):
    """decide_many: one Redis round trip for the batch, the same decisions as one at a time."""
    publish_example(settings, f"batch-{unique}")
    leads = generate(4, seed=4, campaign=f"batch-{unique}").leads
    sync = SyncStore(settings)
    sync.suppress(leads[2]["email"])
    sync.close()
    codec = AvroCodec()
    values = [codec.encode("Lead", leads[0]), b"\x00not avro", codec.encode("Lead", leads[1]),
              codec.encode("Lead", leads[0]), codec.encode("Lead", leads[2]),
              codec.encode("Lead", leads[3])]

    async def run():
        store = IntakeStore(settings)
        intake = Intake(settings, store)
        try:
            return await intake.decide_many(
                [RawRecord(value, None, "leads", 2, offset) for offset, value in enumerate(values)])
        finally:
            intake.close()
            await store.close()

    decisions = asyncio.run(run())
    assert [d.outcome for d in decisions] == [
        "routed", "dead_lettered", "routed", "duplicate", "suppressed", "routed"]
    assert AvroCodec().decode(decisions[1].value, "DeadLetter")["source_offset"] == 1
    routed = [codec.decode(d.value, "GenerationRequest")["lead"]["lead_id"]
              for d in decisions if d.outcome == "routed"]
    assert routed == [leads[0]["lead_id"], leads[1]["lead_id"], leads[3]["lead_id"]]
    # A crash redelivery of the whole batch: the same claims, so nothing new is a duplicate.
    again = asyncio.run(run())
    assert [d.outcome for d in again] == [d.outcome for d in decisions]


def test_the_batch_check_carries_any_text_through_redis_unchanged(settings, unique):
    """check_many sends each lead's claim and address to its script as one JSON argument:
    quotes, backslashes, control characters and non-ASCII text must reach Redis byte for byte
    (suppression matches, a redelivery finds its own claim, a release frees it)."""
    from outreach.store import LeadClaim

    odd = ['q"uote', "back\\slash", "new\nline", "tab\t\x01", "Ünïcode 名前 🚀", "a/b", ""]
    claims = [LeadClaim(f"L-{unique}-{n}", "camp", f"{text.strip() or 'x'}{n}@exämple-{n}.io",
                        f"leads:{text}:{n}") for n, text in enumerate(odd)]
    sync = SyncStore(settings)
    sync.suppress(claims[4].email, claims[5].email.rpartition("@")[2])
    sync.close()

    async def run():
        store = IntakeStore(settings)
        try:
            first = await store.check_many(claims)
            redelivered = await store.check_many(claims)
            other = await store.check_many([c._replace(claim=c.claim + "!") for c in claims])
            released = await store.release_claims(claims)
            return first, redelivered, other, released
        finally:
            await store.close()

    first, redelivered, other, released = asyncio.run(run())
    suppressed = [False] * 4 + [True, True, False]
    assert first == redelivered == [(s, False) for s in suppressed]
    assert other == [(s, True) for s in suppressed]
    assert released == len(claims)
