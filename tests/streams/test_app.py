"""The Faust intake process end to end on the real embedded broker and Redis."""

import time
import uuid

import pytest
from confluent_kafka import Consumer

from outreach.kafka import consumer_config, make_producer
from outreach.leadgen import generate, to_json
from apps.pipeline import Services
from outreach.store import SyncStore, lead_key
from schemas.codec import AvroCodec
from tests.support.campaigns import publish_example

pytestmark = pytest.mark.integration


def collect(settings, topics, want, timeout_s=60):
    consumer = Consumer(consumer_config(settings, f"probe-{uuid.uuid4().hex[:6]}"))
    consumer.subscribe(topics)
    got, deadline = [], time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline and not want(got):
            for msg in consumer.consume(100, timeout=0.5):
                if not msg.error():
                    got.append(msg)
    finally:
        consumer.close()
    return got


def test_bad_record_is_dead_lettered_and_the_stream_goes_on(settings, unique, tmp_path):
    codec = AvroCodec()
    campaign = f"app-{unique}"
    publish_example(settings, campaign)
    batch = generate(4, seed=11, campaign=campaign)
    valid, suppressed, duplicate, control = batch.leads[:4]
    store = SyncStore(settings)
    store.suppress(suppressed["email"])
    bad = b'{"lead_id": "' + unique.encode() + b'", "campaign": "x"'
    # One key for the JSON records: one partition, decided in order, so the control lead's
    # request (last) proves intake decided every record before it.
    key = f"app-{unique}"
    at = []
    producer = make_producer(settings)
    producer.produce("leads.json", key=key, value=bad)  # malformed first, valid ones behind it
    producer.produce("leads", key=valid["lead_id"], value=codec.encode("Lead", valid))
    for lead in (suppressed, duplicate, duplicate, control):
        producer.produce("leads.json", key=key, value=to_json(lead),
                         on_delivery=lambda err, msg: at.append((msg.partition(), msg.offset())))
    producer.flush(10)

    services = Services(settings, tmp_path)
    services.start("stream", name="intake")
    try:
        def mine(msgs):
            out = []
            for m in msgs:
                if m.topic().startswith("dlq."):
                    letter = codec.decode(m.value(), "DeadLetter")
                    if unique in letter["value"].decode(errors="replace"):
                        out.append(("dlq", letter))
                else:
                    request = codec.decode(m.value(), "GenerationRequest")
                    if request["lead"]["campaign"] == campaign:
                        out.append(("request", request))
            return out

        def decided(got):
            results = mine(got)
            leads = {r["lead"]["lead_id"] for kind, r in results if kind == "request"}
            return {valid["lead_id"], control["lead_id"]} <= leads and any(
                kind == "dlq" for kind, _ in results)

        msgs = collect(settings, ["dlq.leads.json", "email.requests.small",
                                  "email.requests.large"], decided)
        results = mine(msgs)
        services.check_alive()
    finally:
        services.stop()
    letters = [r for kind, r in results if kind == "dlq"]
    requests = [r for kind, r in results if kind == "request"]
    assert len(letters) == 1 and "invalid JSON" in letters[0]["error"]
    assert letters[0]["value"] == bad
    # The suppressed lead made no request, the duplicate one (its second record was dropped).
    assert sorted(r["lead"]["lead_id"] for r in requests) == sorted(
        [valid["lead_id"], duplicate["lead_id"], control["lead_id"]])
    assert {(r["campaign_id"], r["campaign_version"]) for r in requests} == {(campaign, 1)}
    # Witnessed by this test's own records, not the stats counters (this fresh intake group
    # replays other tests' leads from the shared topics, and they count too): intake claims
    # each lead it decides with the claiming record's offset. The suppressed lead was decided
    # (claimed by its record) yet made no request or dead letter; the duplicate's claim is its
    # first record's, so the second was refused as a duplicate.
    (partition, suppressed_at), (_, duplicate_at), *_ = sorted(at, key=lambda p: p[1])
    assert len({p for p, _ in at}) == 1

    def claim(lead):
        raw = store.redis.get(lead_key(settings.redis.key_prefix, lead["lead_id"], campaign))
        return raw.decode() if raw else None

    assert claim(suppressed) == f"leads.json:{partition}:{suppressed_at}"
    assert claim(duplicate) == f"leads.json:{partition}:{duplicate_at}"
