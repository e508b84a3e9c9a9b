"""RFC 8058 one-click unsubscribe end to end: the real sender writes the headers and the opt-out
line, the real dashboard app answers the POST, the real feedback app suppresses the address, and
the sender then refuses the next draft to it."""

from __future__ import annotations

import time
import uuid
from email import message_from_bytes, policy

import httpx
from pydantic import SecretStr

from apps.pipeline import Services
from engagement.server import BackgroundServer
from outreach.kafka import make_producer, produce_sync
from outreach.stack import free_port
from outreach.store import SyncStore
from outreach.topics import ENGAGEMENT

from mail_helpers import CODEC, make_draft, produce, run_bounded

SECRET = "unsubscribe-secret-for-tests"


def test_one_click_post_suppresses_the_address_before_the_next_send(mail_settings, sink, tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}/unsubscribe"
    settings = mail_settings.model_copy(update={"sender": mail_settings.sender.model_copy(
        update={"unsubscribe_base_url": base, "unsubscribe_secret": SecretStr(SECRET)})})
    campaign = f"oc{uuid.uuid4().hex[:6]}"
    first = make_draft(campaign, 1)
    produce(settings, first)
    assert run_bounded(settings, max_messages=1).sent == 1
    (eml,) = sink.files()
    msg = message_from_bytes(eml.read_bytes(), policy=policy.default)
    link = msg["List-Unsubscribe"].split(",")[0].strip().strip("<>")
    assert link.startswith(base + "/") and "mailto:" in msg["List-Unsubscribe"]
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg.get_content().rstrip().endswith(link)  # the plain opt-out line

    store = SyncStore(settings)
    services = Services(settings, tmp_path / "svc")
    services.start("feedback")
    try:
        with BackgroundServer(settings, port) as url, httpx.Client() as http:
            page = http.get(link)
            assert page.status_code == 200 and 'method="post"' in page.text
            forged = http.post(link[:-2] + ("AA" if not link.endswith("AA") else "BB"),
                               data={"List-Unsubscribe": "One-Click"})
            assert forged.status_code == 404
            # A GET never unsubscribes. Witnessed, not slept on: a control event behind
            # anything the GET could have published (same key: the draft id, so the same
            # partition) must be counted by the feedback app before the absence means anything.
            control = f"ctl-{campaign}"
            produce_sync(make_producer(settings), ENGAGEMENT, CODEC.encode(
                "EngagementEvent", {"event_id": control, "draft_id": first["draft_id"],
                                    "type": "OPENED", "email": None, "reply_text": None,
                                    "url": None, "source": "test",
                                    "occurred_at": int(time.time() * 1000)}),
                key=first["draft_id"])
            counted = f"{settings.redis.key_prefix}:fb:claim:evt:{control}"
            deadline = time.monotonic() + 90
            while not store.redis.exists(counted):
                services.check_alive()
                assert time.monotonic() < deadline, "the feedback app never counted the control"
                time.sleep(0.2)
            assert not store.is_suppressed(first["to_email"])
            done = http.post(link, data={"List-Unsubscribe": "One-Click"})
            assert done.status_code == 200 and "unsubscribed" in done.text
        deadline = time.monotonic() + 90
        while not store.is_suppressed(first["to_email"]):
            services.check_alive()
            assert time.monotonic() < deadline, "the one-click POST never suppressed the address"
            time.sleep(0.2)
    finally:
        services.stop()
    second = make_draft(campaign, 2, to_email=first["to_email"])
    produce(settings, second)
    stats = run_bounded(settings, max_messages=1)
    assert stats.sent == 0 and [p.name for p in sink.files()] == [eml.name]
