"""The engagement webhook on a real uvicorn server, the real broker, the feedback app and
intake: malformed payloads are refused with a reason; an unsubscribe stops later drafts."""

import time

import httpx
import pytest

from outreach.kafka import make_producer
from outreach.leadgen import generate, to_json
from apps.pipeline import Services
from tests.support.campaigns import publish_example
from tests.support.sample_drafts import template_draft
from outreach.stack import free_port
from outreach.store import SyncStore, lead_key
from outreach.topics import DRAFTS, ENGAGEMENT, LEADS_JSON, TIERS, dlq, requests_topic
from engagement.server import BackgroundServer
from schemas.codec import AvroCodec
from tests.streams.feedback_helpers import TopicReader

pytestmark = pytest.mark.integration


def test_malformed_payloads_get_4xx_with_reasons_and_publish_nothing(settings, unique):
    bad_batch = [{"event": "open", "draft_id": f"d-{unique}-1", "timestamp": 1700000000},
                 {"event": "teleported", "draft_id": f"d-{unique}-2"},
                 {"event": "reply", "draft_id": f"d-{unique}-3"}]
    good = [{"event": "delivered", "draft_id": f"d-{unique}-4", "email": "a@b.example",
             "timestamp": 1700000000, "sg_event_id": f"sg-{unique}"},
            {"event": "inbound", "custom_args": {"draft_id": f"d-{unique}-5"},
             "text": "Sounds good, call me", "timestamp": "2026-03-01T10:00:00Z"}]
    with BackgroundServer(settings, free_port()) as url, httpx.Client(base_url=url) as http:
        refused = http.post("/webhooks/engagement", json=bad_batch)
        not_json = http.post("/webhooks/engagement", content=b"{nope",
                             headers={"content-type": "application/json"})
        empty = http.post("/webhooks/engagement", json=[])
        accepted = http.post("/webhooks/engagement", json=good)
        again = http.post("/webhooks/engagement", json=good)  # an ESP retry: same ids
    assert refused.status_code == 422
    reason = refused.json()["error"]
    assert "events[1]: unknown event type 'teleported'" in reason
    assert "events[2]: a REPLIED event needs reply_text" in reason
    assert not_json.status_code == 400 and "not JSON" in not_json.json()["error"]
    assert empty.status_code == 422
    assert accepted.status_code == 202 and accepted.json()["accepted"] == 2
    assert accepted.json()["event_ids"][0] == f"sg-{unique}"
    assert again.json()["event_ids"] == accepted.json()["event_ids"]

    codec = AvroCodec()
    reader = TopicReader(settings, [ENGAGEMENT])
    mine = lambda msgs: [codec.decode(m.value(), "EngagementEvent") for m in msgs  # noqa: E731
                         if m.key() and unique.encode() in m.key()]
    try:
        reader.until(lambda msgs: len(mine(msgs)) >= 4, 20)
        time.sleep(1)
        reader.until(lambda msgs: False, 1)
    finally:
        reader.close()
    events = mine(reader.messages)
    assert sorted(e["draft_id"] for e in events) == sorted([f"d-{unique}-4", f"d-{unique}-5"] * 2)
    reply = next(e for e in events if e["type"] == "REPLIED")
    assert reply["reply_text"] == "Sounds good, call me" and reply["source"] == "webhook"


def test_unsubscribe_via_webhook_stops_later_drafts_end_to_end(settings, unique, tmp_path):
    codec = AvroCodec()
    publish_example(settings, f"unsub-{unique}")  # intake routes only published campaigns
    batch = generate(2, seed=21, campaign=f"unsub-{unique}", suppressed=0, duplicates=0,
                     malformed=0)
    first, control = batch.leads
    # The generator is seeded, so earlier tests produced leads with the same address; one of
    # our own keeps this test's suppression from touching them.
    first = dict(first, email=f"unsub-{unique}@unsub-{unique}.example")
    draft = template_draft(first, "control", "personalized")
    producer = make_producer(settings)
    producer.produce(DRAFTS, key=draft["draft_id"], value=codec.encode("EmailDraft", draft))
    producer.flush(10)
    services = Services(settings, tmp_path)
    services.start("feedback")
    services.start("stream", name="intake")
    store = SyncStore(settings)
    try:
        with BackgroundServer(settings, free_port()) as url:
            # The ESP reports the unsubscribe with only our draft id (no address): the
            # attribution join finds the address on the draft.
            response = httpx.post(f"{url}/webhooks/engagement", json={
                "event": "unsubscribe", "metadata": {"draft_id": draft["draft_id"]}})
            assert response.status_code == 202, response.text
        deadline = time.monotonic() + 60
        while not store.is_suppressed(first["email"]):
            services.check_alive()
            assert time.monotonic() < deadline, "address was never suppressed"
            time.sleep(0.2)
        # A new lead for the same address (new lead_id), then a control lead behind it on
        # the same partition (same key), so seeing the control's request proves the first
        # was decided.
        again = dict(first, lead_id=f"again-{unique}")
        key = f"k-{unique}"
        at = []  # where our record landed: intake's claim names it
        producer.produce(LEADS_JSON, key=key, value=to_json(again),
                         on_delivery=lambda err, msg: at.append((msg.partition(), msg.offset())))
        producer.produce(LEADS_JSON, key=key, value=to_json(control))
        producer.flush(10)
        reader = TopicReader(settings, [requests_topic(t) for t in TIERS] + [dlq(LEADS_JSON)])
        leads_of = lambda msgs: {codec.decode(m.value(), "GenerationRequest")["lead"]["lead_id"]  # noqa: E731
                                 for m in msgs if m.topic() != dlq(LEADS_JSON)}
        try:
            assert reader.until(lambda msgs: control["lead_id"] in leads_of(msgs), 60,
                                check=services.check_alive)
        finally:
            reader.close()
    finally:
        services.stop()
    assert again["lead_id"] not in leads_of(reader.messages)
    # ...and it was decided as suppressed, witnessed by this test's own records (the stats
    # counter is no witness: this test's fresh consumer groups replay earlier tests' leads and
    # engagement, which suppresses some of those too). Intake claims every lead it decides with
    # the record's own offset: our record claimed it, so it was no duplicate; it made no request
    # (above) and no dead letter; what is left is "suppressed".
    claim = store.redis.get(lead_key(settings.redis.key_prefix, again["lead_id"],
                                     again["campaign"]))
    (partition, offset), = at
    assert claim is not None and claim.decode() == f"{LEADS_JSON}:{partition}:{offset}"
    assert not [m for m in reader.messages
                if m.topic() == dlq(LEADS_JSON) and m.key() == key.encode()]
