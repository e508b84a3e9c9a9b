"""Who may post engagement events: a real uvicorn server, the real broker and Redis.

Forged, replayed, stale, cross-site (non-JSON) and oversized posts are refused and publish
nothing; a signed one is accepted once; without a secret the server will not bind beyond
loopback.
"""

import json
import time

import httpx
import pytest
from pydantic import SecretStr

from engagement.server import BackgroundServer
from engagement.webhook_auth import sign
from outreach.errors import ConfigError
from outreach.stack import free_port
from outreach.topics import ENGAGEMENT
from schemas.codec import AvroCodec
from tests.streams.feedback_helpers import TopicReader

pytestmark = pytest.mark.integration
SECRET = "s3cret-for-tests"
PATH = "/webhooks/engagement"


def secured(settings, **extra):
    return settings.model_copy(update={"dashboard": settings.dashboard.model_copy(
        update={"webhook_secret": SecretStr(SECRET), **extra})})


def event(unique, n, **fields):
    return {"event": "unsubscribe", "draft_id": f"sec-{unique}-{n}",
            "email": f"a{n}@sec-{unique}.example", "timestamp": 1700000000 + n,
            "sg_event_id": f"sg-sec-{unique}-{n}", **fields}


def post(http, body, signature=None, content_type="application/json", **headers):
    headers = {"content-type": content_type, **headers}
    if signature:
        headers["x-outreach-signature"] = signature
    return http.post(PATH, content=body, headers=headers)


def test_forged_replayed_stale_and_cross_site_posts_are_refused(settings, unique):
    settings = secured(settings)
    bodies = {n: json.dumps(event(unique, n)).encode() for n in range(1, 8)}
    with BackgroundServer(settings, free_port()) as url, httpx.Client(base_url=url) as http:
        unsigned = post(http, bodies[1])
        forged = post(http, bodies[2], sign("guessed-secret", bodies[2]))
        tampered = post(http, bodies[3].replace(b"a3@", b"ceo@"), sign(SECRET, bodies[3]))
        stale = post(http, bodies[4], sign(SECRET, bodies[4], int(time.time()) - 3600))
        form = post(http, bodies[5], sign(SECRET, bodies[5]), "text/plain")
        signature = sign(SECRET, bodies[6])
        good = post(http, bodies[6], signature)
        replay = post(http, bodies[6], signature)
        big = b"[" + b",".join([bodies[7]] * 40_000) + b"]"
        oversized = post(http, big, sign(SECRET, big))
    assert [r.status_code for r in (unsigned, forged, tampered, stale)] == [401] * 4
    assert "outside the tolerance" in stale.json()["error"]
    assert form.status_code == 415 and oversized.status_code == 413
    assert good.status_code == 202 and replay.status_code == 401
    assert "replay" in replay.json()["error"]

    codec = AvroCodec()
    reader = TopicReader(settings, [ENGAGEMENT])
    mine = lambda msgs: [codec.decode(m.value(), "EngagementEvent")["draft_id"]  # noqa: E731
                         for m in msgs if m.key() and f"sec-{unique}".encode() in m.key()]
    try:
        reader.until(lambda msgs: len(mine(msgs)) >= 1, 20)
        reader.until(lambda msgs: False, 2)
    finally:
        reader.close()
    assert mine(reader.messages) == [f"sec-{unique}-6"]  # only the good one, once


def test_token_is_compared_and_bare_domains_are_not_events(settings, unique):
    settings = settings.model_copy(update={"dashboard": settings.dashboard.model_copy(
        update={"webhook_token": SecretStr("tok-123")})})
    with BackgroundServer(settings, free_port()) as url, httpx.Client(base_url=url) as http:
        wrong = http.post(PATH, json=event(unique, 1), headers={"x-outreach-token": "tok-12"})
        domain = http.post(PATH, json=event(unique, 2, email=f"sec-{unique}.example"),
                           headers={"x-outreach-token": "tok-123"})
        right = http.post(PATH, json=event(unique, 3), headers={"x-outreach-token": "tok-123"})
    assert wrong.status_code == 401
    assert domain.status_code == 422 and "not an address" in domain.json()["error"]
    assert right.status_code == 202


def test_no_secret_no_binding_beyond_loopback(settings):
    with pytest.raises(ConfigError, match="webhook_secret"):
        BackgroundServer(settings, free_port(), host="0.0.0.0")
    BackgroundServer(secured(settings), free_port(), host="0.0.0.0")  # allowed with a secret
