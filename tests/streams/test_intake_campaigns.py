"""Intake and the `campaigns` table: unknown or retired campaigns are dead-lettered with the
reason, routed requests carry the campaign version (real broker and Redis)."""

import asyncio

from apps.campaigns import retire_campaign
from outreach.leadgen import generate, to_json
from outreach.store import IntakeStore
from schemas.codec import AvroCodec
from streams.intake import Intake, RawRecord
from tests.support.campaigns import publish_example


def decide_in_one_intake(settings, steps):
    """Run ``steps`` (callables returning records, or None to act on the stack) through ONE
    Intake, so the table it opened at the first batch must follow later publishes."""
    async def run():
        store = IntakeStore(settings)
        intake = Intake(settings, store)
        results = []
        try:
            for offset, step in enumerate(steps):
                raw = await asyncio.to_thread(step)
                if raw is not None:
                    results.append(await intake.decide_many(
                        [RawRecord(raw, None, "leads.json", 0, offset)]))
        finally:
            intake.close()
            await store.close()
        return [batch[0] for batch in results]
    return asyncio.run(run())


def test_unknown_campaign_is_dead_lettered_and_a_resend_after_adding_it_is_routed(
        settings, unique):
    campaign_id = f"late-{unique}"
    lead = generate(1, seed=31, campaign=campaign_id).leads[0]
    raw = to_json(lead)
    first, again = decide_in_one_intake(settings, [
        lambda: raw, lambda: publish_example(settings, campaign_id) and None, lambda: raw])
    assert first.outcome == "dead_lettered" and first.topic == "dlq.leads.json"
    letter = AvroCodec().decode(first.value, "DeadLetter")
    assert letter["error_type"] == "unknown_campaign"
    assert campaign_id in letter["error"] and "outreach campaign add" in letter["error"]
    assert letter["value"] == raw and letter["stage"] == "intake"
    # The refused lead was not claimed: its resend is routed, not dropped as a duplicate, and
    # the table the Intake opened before the campaign existed has followed the topic.
    assert again.outcome == "routed"
    request = AvroCodec().decode(again.value, "GenerationRequest")
    assert (request["campaign_id"], request["campaign_version"]) == (campaign_id, 1)


def test_retired_campaign_is_dead_lettered_with_its_version(settings, unique):
    campaign_id = f"old-{unique}"
    publish_example(settings, campaign_id)
    leads = generate(2, seed=32, campaign=campaign_id).leads
    routed, retired = decide_in_one_intake(settings, [
        lambda: to_json(leads[0]),
        lambda: retire_campaign(settings, campaign_id) and None,
        lambda: to_json(leads[1])])
    assert routed.outcome == "routed"
    assert retired.outcome == "dead_lettered"
    letter = AvroCodec().decode(retired.value, "DeadLetter")
    assert letter["error_type"] == "retired_campaign"
    assert f"{campaign_id!r} was retired (v2)" in letter["error"]


def test_requests_carry_the_version_active_when_routed(settings, unique):
    campaign_id = f"ver-{unique}"
    publish_example(settings, campaign_id)
    leads = generate(2, seed=33, campaign=campaign_id).leads
    v1, v2 = decide_in_one_intake(settings, [
        lambda: to_json(leads[0]),
        lambda: publish_example(settings, campaign_id, tone="warm, brief") and None,
        lambda: to_json(leads[1])])
    codec = AvroCodec()
    assert codec.decode(v1.value, "GenerationRequest")["campaign_version"] == 1
    assert codec.decode(v2.value, "GenerationRequest")["campaign_version"] == 2
