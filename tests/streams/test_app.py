"""The Faust intake process end to end on the real embedded broker and Redis."""

import time
import uuid

import pytest
from confluent_kafka import Consumer

from outreach.kafka import consumer_config, make_producer
from outreach.leadgen import generate, to_json
from apps.pipeline import Services
from outreach.store import SyncStore
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
    valid, suppressed, duplicate = batch.leads[0], batch.leads[1], batch.leads[2]
    SyncStore(settings).suppress(suppressed["email"])
    bad = b'{"lead_id": "' + unique.encode() + b'", "campaign": "x"'
    producer = make_producer(settings)
    producer.produce("leads.json", value=bad)  # malformed first, then valid ones behind it
    producer.produce("leads", key=valid["lead_id"], value=codec.encode("Lead", valid))
    producer.produce("leads.json", value=to_json(suppressed))
    producer.produce("leads.json", value=to_json(duplicate))
    producer.produce("leads.json", value=to_json(duplicate))
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

        msgs = collect(settings, ["dlq.leads.json", "email.requests.small",
                                  "email.requests.large"],
                       lambda got: len(mine(got)) >= 3)
        results = mine(msgs)
        services.check_alive()
    finally:
        services.stop()
    letters = [r for kind, r in results if kind == "dlq"]
    requests = [r for kind, r in results if kind == "request"]
    assert len(letters) == 1 and "invalid JSON" in letters[0]["error"]
    assert letters[0]["value"] == bad
    assert sorted(r["lead"]["lead_id"] for r in requests) == sorted(
        [valid["lead_id"], duplicate["lead_id"]])
    assert {(r["campaign_id"], r["campaign_version"]) for r in requests} == {(campaign, 1)}
    # The intake group reads the shared topics from the start, so other tests' leads count too.
    stats = SyncStore(settings).stats()
    assert stats["suppressed"] >= 1 and stats["duplicate"] >= 1 and stats["dead_lettered"] >= 1
