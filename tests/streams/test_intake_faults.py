"""Intake under faults: bad records become dead letters, outages retry the batch unacknowledged.

Real components only: a private redis-server (stopped and restarted on its port), the session's
Tansu broker, and a confluent-kafka producer pointed at a closed port for a broker that is gone.
"""

import asyncio
import collections
import subprocess
import time

import pytest
from confluent_kafka import Producer

from apps.campaigns import publish_campaign
from apps.fuzz import DEEP_LEVELS, fuzz_records
from outreach.errors import KafkaError, StoreError
from outreach.kafka import make_producer
from outreach.leadgen import generate, to_json
from outreach.stack import free_port, start_redis
from outreach.store import IntakeStore, lead_key, sync_client
from schemas.codec import AvroCodec
from streams.intake import Intake, RawRecord
from streams.intake_batch import decide_and_send
from tests.support.worker_helpers import sample_campaign


def campaign(settings, campaign_id):
    """Publish ``campaign_id`` so intake finds it active (unknown campaigns are dead-lettered)."""
    publish_campaign(settings, sample_campaign(campaign_id=campaign_id))
    return campaign_id


@pytest.fixture()
def private_redis(settings, tmp_path):
    """A redis-server of this test alone, so stopping it disturbs no other test."""
    url, proc = start_redis(settings, tmp_path)
    yield url, proc
    if proc.poll() is None:
        proc.terminate()
        proc.wait(10)


def kafka_send(producer):
    """``send`` for decide_and_send on a real confluent-kafka producer: enqueue, return an
    awaitable that resolves on the broker's acknowledgement (or raises its error)."""
    async def send(decision):
        loop = asyncio.get_running_loop()
        done = loop.create_future()

        def report(err, _msg):
            loop.call_soon_threadsafe(
                done.set_exception if err else done.set_result,
                KafkaError(f"delivery failed: {err}") if err else None)

        producer.produce(decision.topic, key=decision.key, value=decision.value,
                         on_delivery=report)

        async def acked():
            while not done.done():
                producer.poll(0.05)
                await asyncio.sleep(0)
            return done.result()
        return acked()
    return send


def records(leads, topic="leads.json", first_offset=0):
    return [RawRecord(to_json(lead), lead["lead_id"].encode(), topic, 0, first_offset + i)
            for i, lead in enumerate(leads)]


def test_deep_json_and_fuzzed_records_are_dead_lettered_with_reasons(settings, unique):
    name = campaign(settings, f"fz-{unique}")
    fuzz = list(fuzz_records(400, seed=5, campaign=name))
    valid = generate(1, seed=4, campaign=name, suppressed=0).leads[0]
    batch = [RawRecord(r.value, None, r.topic, 0, i) for i, r in enumerate(fuzz)]
    batch.append(records([valid], first_offset=len(batch))[0])

    async def run():
        store = IntakeStore(settings)
        try:
            return await Intake(settings, store).decide_many(batch)
        finally:
            await store.close()

    decisions = asyncio.run(run())
    assert [d.outcome for d in decisions[:-1]] == ["dead_lettered"] * len(fuzz)
    assert decisions[-1].outcome == "routed"  # the valid lead behind them is still decided
    codec = AvroCodec()
    letters = [codec.decode(d.value, "DeadLetter") for d in decisions[:-1]]
    assert all(letter["error"] and letter["error_type"] for letter in letters)
    kinds = collections.Counter(r.kind for r in fuzz)
    assert len(kinds) == 8, kinds  # every mutation family was exercised
    deep = [letter for r, letter in zip(fuzz, letters) if r.kind == "deep_nesting"]
    assert deep and all(letter["error_type"] == "too_deep" or "deep" in letter["error"]
                        or "depth" in letter["error"] for letter in deep), deep[0]["error"]
    assert DEEP_LEVELS >= 100_000


def test_broker_failure_retries_the_batch_and_releases_its_claims(settings, unique):
    leads = generate(3, seed=9, campaign=campaign(settings, f"bf-{unique}"), suppressed=0).leads
    # A producer whose broker is gone (a closed port): every delivery fails after 1.5 s.
    dead = Producer({"bootstrap.servers": f"127.0.0.1:{free_port()}",
                     "message.timeout.ms": 1500})
    live = make_producer(settings)
    sends = [kafka_send(dead), kafka_send(live)]
    between = {}

    async def run():
        store = IntakeStore(settings)
        intake = Intake(settings, store)
        attempt = iter(sends)
        current = {"send": next(attempt)}

        async def send(decision):
            return await current["send"](decision)

        async def sleep(_seconds):
            # Between the attempts: the failed attempt's claims must be gone.
            client = sync_client(settings.redis_url)
            between["claims"] = [client.get(lead_key(settings.redis.key_prefix, lead["lead_id"],
                                                     lead["campaign"])) for lead in leads]
            client.close()
            current["send"] = next(attempt)

        try:
            return await decide_and_send(intake, records(leads), send, sleep=sleep)
        finally:
            await store.close()

    result = asyncio.run(run())
    assert result.attempts == 2
    assert between["claims"] == [None, None, None]
    assert [d.outcome for d in result.decisions] == ["routed"] * 3


def test_a_batch_that_gives_up_leaves_no_claim_that_drops_the_crm_resend(settings, unique):
    leads = generate(2, seed=10, campaign=campaign(settings, f"gu-{unique}"),
                     suppressed=0).leads
    dead = Producer({"bootstrap.servers": f"127.0.0.1:{free_port()}",
                     "message.timeout.ms": 1000})

    async def run():
        store = IntakeStore(settings)
        intake = Intake(settings, store)
        try:
            with pytest.raises(KafkaError):
                await decide_and_send(intake, records(leads), kafka_send(dead), max_attempts=1)
            # The CRM sends the same leads again: new records, new offsets.
            return await intake.decide_many(records(leads, first_offset=100))
        finally:
            await store.close()

    assert [d.outcome for d in asyncio.run(run())] == ["routed", "routed"]


def test_redis_outage_is_waited_out_and_no_lead_is_lost(settings, unique, private_redis):
    url, proc = private_redis
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    local = settings.with_connections(settings.kafka_bootstrap_servers, url)
    leads = generate(5, seed=12, campaign=campaign(settings, f"ro-{unique}"),
                     suppressed=0).leads
    proc.terminate()
    proc.wait(10)
    restarted = {}

    async def run():
        store = IntakeStore(local)
        intake = Intake(local, store)
        failures = []

        async def sleep(seconds):
            failures.append(seconds)
            if len(failures) == 3:  # Redis comes back after three failed attempts
                restarted["proc"] = subprocess.Popen(
                    ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                     "--appendonly", "no"], stdout=subprocess.DEVNULL)
                time.sleep(0.5)

        try:
            return await decide_and_send(intake, records(leads), kafka_send(
                make_producer(local)), sleep=sleep), failures
        finally:
            await store.close()

    try:
        result, failures = asyncio.run(run())
    finally:
        if "proc" in restarted:
            restarted["proc"].terminate()
            restarted["proc"].wait(10)
    assert result.attempts == 4 and failures == [0.5, 1.0, 2.0]
    assert [d.outcome for d in result.decisions] == ["routed"] * 5


def test_store_error_is_raised_not_swallowed_when_redis_is_silent(settings, unique,
                                                                  private_redis):
    url, proc = private_redis
    local = settings.with_connections(settings.kafka_bootstrap_servers, url)
    proc.send_signal(subprocess.signal.SIGSTOP)  # alive but silent: only a timeout ends a call
    lead = generate(1, seed=2, campaign=campaign(settings, f"si-{unique}"),
                    suppressed=0).leads[0]

    async def run():
        store = IntakeStore(local)
        try:
            started = time.monotonic()
            with pytest.raises(StoreError):
                await Intake(local, store).decide_many(records([lead]))
            return time.monotonic() - started
        finally:
            proc.send_signal(subprocess.signal.SIGCONT)
            await store.close()

    assert asyncio.run(run()) < 30  # the socket timeout (5 s), not a hang


def test_schema_registry_outage_retries_the_batch_instead_of_dead_lettering(settings, unique):
    """A registry that does not answer (a closed port, the real HTTP client) condemns no record:
    the batch is retried, nothing is decided."""
    from outreach.errors import SchemaRegistryUnavailable

    registry = f"http://127.0.0.1:{free_port()}"
    leads = generate(1, seed=3, campaign=campaign(settings, f"sr-{unique}"), suppressed=0).leads
    framed = RawRecord(b"\x00\x00\x00\x00\x07" + b"\x02x", None, "leads", 0, 1)

    async def run():
        store = IntakeStore(settings)
        intake = Intake(settings, store, codec=AvroCodec(registry_url=registry))
        sleeps = []

        async def sleep(seconds):
            sleeps.append(seconds)

        try:
            with pytest.raises(SchemaRegistryUnavailable):
                await decide_and_send(intake, [framed, *records(leads)], None, sleep=sleep,
                                      max_attempts=3)
            return sleeps
        finally:
            intake.close()
            await store.close()

    assert asyncio.run(run()) == [0.5, 1.0]  # three attempts, backing off, none acknowledged


def test_a_record_near_the_message_limit_still_becomes_a_producible_dead_letter(settings):
    """Its dead letter is capped under 1 MB (value truncated, said in the reason), so the batch
    is not retried forever on a MessageSizeTooLarge."""
    from schemas.deadletter import MAX_VALUE_BYTES

    huge = b"{" + b" " * 1_000_000 + b"nope"
    (decision,) = asyncio.run(_decide(settings, [RawRecord(huge, None, "leads.json", 0, 1)]))
    assert decision.outcome == "dead_lettered" and len(decision.value) < 1_000_000
    letter = AvroCodec().decode(decision.value, "DeadLetter")
    assert len(letter["value"]) == MAX_VALUE_BYTES and "truncated from 1000005" in letter["error"]
    from outreach.kafka import produce_sync

    produce_sync(make_producer(settings), decision.topic, decision.value)  # raises if refused


async def _decide(settings, batch):
    store = IntakeStore(settings)
    intake = Intake(settings, store)
    try:
        return await intake.decide_many(batch)
    finally:
        intake.close()
        await store.close()


def test_a_valid_lead_too_large_for_a_request_is_dead_lettered(settings, unique):
    lead = generate(1, seed=8, campaign=campaign(settings, f"tl-{unique}"), suppressed=0).leads[0]
    # A whole document pasted into the notes: plain text, so screening passes it (an over-long
    # name or industry is withheld as implausible instead), but the broker would not take it.
    lead["notes"] = "Met at the expo in May and asked about pricing for two sites. " * 15_000
    (decision,) = asyncio.run(_decide(settings, records([lead])))
    assert decision.outcome == "dead_lettered" and "exceeds" in decision.reason
