"""One-click unsubscribe (RFC 8058): POST /unsubscribe/<token> publishes an UNSUBSCRIBED event.

GET shows a confirmation page whose button POSTs: mail scanners and link previews fetch every
GET in a message, so a GET must never unsubscribe anyone. The POST (a mail client's one-click
``List-Unsubscribe=One-Click`` or the page's button) publishes an EngagementEvent naming only
the draft; the feedback loop joins it with the draft and suppresses the draft's address, which
intake and the sender then check before the next message. The event id is derived from the
draft, so a repeated click is one event downstream.
"""

from __future__ import annotations

import asyncio
import html
import logging
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse

from engagement.webhook_auth import Refusal, read_capped
from outreach.errors import KafkaError
from outreach.kafka import produce_sync
from outreach.settings import Settings
from outreach.topics import ENGAGEMENT
from outreach.unsubscribe_token import read_token, sender_secrets
from schemas.codec import AvroCodec
from schemas.records import EngagementEvent

log = logging.getLogger(__name__)
MAX_FORM_BYTES = 4096  # "List-Unsubscribe=One-Click" is 26 bytes

_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem}}
button{{font-size:1rem;padding:.6rem 1.2rem}}</style></head><body><h1>{title}</h1>{body}
</body></html>"""


INVALID = ("<p>This unsubscribe link is not valid or has expired. Reply to the message to "
           "unsubscribe.</p>")


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(title=html.escape(title), body=body), status_code=status)


def unsubscribe_event(draft_id: str, now_ms: int) -> EngagementEvent:
    return {"event_id": f"unsub-{draft_id}", "draft_id": draft_id, "type": "UNSUBSCRIBED",
            "email": None, "reply_text": None, "url": None, "source": "one-click",
            "occurred_at": now_ms}


def add_unsubscribe_routes(app: FastAPI, settings: Settings, resources: dict[str, Any],
                           codec: AvroCodec) -> None:
    # Rotation: every configured secret is accepted, each token names its key (kid).
    secrets = sender_secrets(settings.sender)

    def draft_of(token: str) -> str | None:
        return read_token(secrets, token) if secrets else None

    @app.get("/unsubscribe/{token}", response_class=HTMLResponse)
    async def confirm(token: str) -> HTMLResponse:
        if draft_of(token) is None:
            return _page("Link not recognized", INVALID, 404)
        return _page("Unsubscribe", '<p>Stop all emails to this address?</p><form method="post">'
                     '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
                     '<button type="submit">Unsubscribe</button></form>')

    @app.post("/unsubscribe/{token}", response_class=HTMLResponse)
    async def unsubscribe(token: str, request: Request) -> HTMLResponse:
        draft_id = draft_of(token)
        if draft_id is None:
            return _page("Link not recognized", INVALID, 404)
        body = await read_capped(request, MAX_FORM_BYTES)
        if isinstance(body, Refusal):
            return _page("Request too large", "", body.status)
        event = unsubscribe_event(draft_id, int(time.time() * 1000))
        value = codec.encode("EngagementEvent", event, topic=ENGAGEMENT)
        try:
            await asyncio.to_thread(produce_sync, resources["producer"], ENGAGEMENT, value,
                                    draft_id)
        except KafkaError as exc:
            log.error("one-click unsubscribe for draft %s not published: %s", draft_id, exc)
            return _page("Please try again", "<p>We could not record this right now.</p>", 503)
        log.info("one-click unsubscribe for draft %s", draft_id)
        return _page("You are unsubscribed", "<p>You will not receive further emails from us."
                     "</p>")
