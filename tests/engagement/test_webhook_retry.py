"""A signed webhook retried after a refusal is accepted: the signature is spent only once its
events are published (real uvicorn servers, the real broker and Redis; "Kafka down" is a
server whose broker address answers nothing)."""

import json

import httpx
import pytest
from pydantic import SecretStr

from engagement.server import BackgroundServer
from engagement.webhook_auth import sign
from outreach.stack import free_port
from outreach.topics import ENGAGEMENT
from schemas.codec import AvroCodec
from tests.streams.feedback_helpers import TopicReader

pytestmark = pytest.mark.integration
SECRET = "s3cret-for-retry-tests"
PATH = "/webhooks/engagement"


def secured(settings):
    return settings.model_copy(update={"dashboard": settings.dashboard.model_copy(
        update={"webhook_secret": SecretStr(SECRET)})})


def test_retry_after_503_publishes_exactly_one_event(settings, unique):
    settings = secured(settings)
    body = json.dumps({"event": "unsubscribe", "draft_id": f"retry-{unique}",
                       "email": f"r@retry-{unique}.example", "timestamp": 1700000000,
                       "sg_event_id": f"sg-retry-{unique}"}).encode()
    headers = {"content-type": "application/json", "x-outreach-signature": sign(SECRET, body)}
    # Kafka down: the same Redis, a broker address nothing listens on.
    down = settings.with_connections(f"127.0.0.1:{free_port()}", settings.redis_url)
    with BackgroundServer(down, free_port()) as url:
        first = httpx.post(url + PATH, content=body, headers=headers, timeout=60)
    with BackgroundServer(settings, free_port()) as url:
        retry = httpx.post(url + PATH, content=body, headers=headers, timeout=60)
        replay = httpx.post(url + PATH, content=body, headers=headers, timeout=60)
    assert first.status_code == 503, first.text
    assert retry.status_code == 202, retry.text  # the old code answered 401 "already used"
    assert replay.status_code == 401 and "replay" in replay.json()["error"]

    codec = AvroCodec()
    reader = TopicReader(settings, [ENGAGEMENT])
    mine = lambda msgs: [codec.decode(m.value(), "EngagementEvent")  # noqa: E731
                         for m in msgs if m.key() == f"retry-{unique}".encode()]
    try:
        reader.until(lambda msgs: len(mine(msgs)) >= 1, 20)
        reader.until(lambda msgs: False, 2)
    finally:
        reader.close()
    events = mine(reader.messages)
    assert len(events) == 1 and events[0]["type"] == "UNSUBSCRIBED"


def test_unparsable_bodies_answer_400_and_leave_the_signature_unspent(settings, unique):
    settings = secured(settings)
    deep = b"[" * 100_000 + b"]" * 100_000  # RecursionError in json: a 500 before
    broken = b'{"event": "unsubscribe", "draft_id": "x-' + unique.encode() + b'"'
    with BackgroundServer(settings, free_port()) as url, httpx.Client(base_url=url) as http:
        replies = [http.post(PATH, content=b, headers={
            "content-type": "application/json", "x-outreach-signature": sign(SECRET, b)})
            for b in (deep, broken, broken)]
    assert [r.status_code for r in replies] == [400, 400, 400], [r.text for r in replies]
    assert all("not JSON" in r.json()["error"] for r in replies)  # not "already used"
