"""POST /webhooks/engagement: ESP events -> engagement.events.

One ESP-style event or a list (SendGrid, Mailgun, Postmark vocabularies; see
streams/engagement.py). Validation is all or nothing: any malformed entry answers 422 with
every reason and nothing is published; otherwise every event is produced (key draft_id) and
acknowledged by the broker before the 202, so an ESP that gets a 202 can forget the batch
(at-least-once; its retries are de-duplicated downstream by event_id).

A signature is spent only once its events are published: a sender retrying after a 503
(broker down) or any other refusal sends the same signed request again and must not be told
"already used", or the unsubscribe or complaint it carries is lost. A replay of a request
that was accepted is refused; two identical requests racing may both publish, which the
event_id de-duplication downstream absorbs.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import redis
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import Counter

from engagement.webhook_auth import (Refusal, check_headers, check_signature, read_capped,
                                     replay_key)
from outreach.errors import KafkaError, SchemaError
from outreach.settings import Settings
from outreach.topics import ENGAGEMENT
from schemas.codec import AvroCodec
from schemas.records import EngagementEvent
from streams.engagement import from_webhook

log = logging.getLogger(__name__)
WEBHOOK = Counter("outreach_webhook_requests_total", "Engagement webhook requests", ["status"])
WEBHOOK_EVENTS = Counter("outreach_webhook_events_total", "Events published by the webhook",
                         ["type"])
MAX_BODY_BYTES = 5 * 1024 * 1024  # 1000 events with long reply threads fit comfortably


def _error(status: int, reason: str) -> JSONResponse:
    WEBHOOK.labels(str(status)).inc()
    return JSONResponse({"error": reason}, status_code=status)


def parse_body(body: bytes) -> Any:
    """The JSON payload; SchemaError for anything that is not (a 100,000-deep nesting raises
    RecursionError in json, which must answer 400, not 500)."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise SchemaError(f"body is not JSON: {str(exc)[:200]}") from exc


def add_webhook_route(app: FastAPI, settings: Settings, resources: dict[str, Any],
                      codec: AvroCodec) -> None:
    tolerance = settings.dashboard.webhook_tolerance_s

    @app.post("/webhooks/engagement", status_code=202)
    async def webhook(request: Request) -> Response:
        # Token, content type and declared size before reading; the signature before parsing
        # (engagement/webhook_auth.py); its one-time use only after publishing.
        refusal = check_headers(request, settings, MAX_BODY_BYTES)
        body = refusal or await read_capped(request, MAX_BODY_BYTES)
        if isinstance(body, Refusal):
            return _error(body.status, body.reason)
        refusal, signature = check_signature(request.headers, body, settings)
        if refusal is not None:
            return _error(refusal.status, refusal.reason)
        key = replay_key(settings, signature) if signature else None
        if key is not None:
            try:
                used = await resources["redis"].exists(key)
            except redis.RedisError as exc:
                log.error("webhook replay check failed: %s", exc)
                return _error(503, "cannot check the signature for replay; retry later")
            if used:
                return _error(401, "signature already used (replay)")
        try:
            payload = parse_body(body)
        except SchemaError as exc:
            return _error(400, str(exc))
        if isinstance(payload, list) and len(payload) > settings.dashboard.max_webhook_events:
            return _error(413, f"more than {settings.dashboard.max_webhook_events} events")
        try:
            events = from_webhook(payload)
            values = [codec.encode("EngagementEvent", e, topic=ENGAGEMENT) for e in events]
        except SchemaError as exc:
            return _error(422, str(exc))
        except RecursionError:  # deeply nested fields inside an event
            return _error(400, "payload nested too deeply")
        try:
            await asyncio.to_thread(_produce_all, resources["producer"], events, values)
        except KafkaError as exc:
            log.error("webhook could not publish: %s", exc)
            return _error(503, "could not publish the events; retry later")
        if key is not None:
            try:
                await resources["redis"].set(key, 1, nx=True, ex=2 * tolerance)
            except redis.RedisError as exc:  # published: a replay would only be a duplicate
                log.warning("webhook signature not recorded (replays de-duplicate "
                            "downstream): %s", exc)
        for e in events:
            WEBHOOK_EVENTS.labels(e["type"]).inc()
        WEBHOOK.labels("202").inc()
        return JSONResponse({"accepted": len(events),
                             "event_ids": [e["event_id"] for e in events]}, status_code=202)


def _produce_all(producer: Any, events: list[EngagementEvent], values: list[bytes]) -> None:
    """Produce every event and wait for all acknowledgements (blocking; run in a thread)."""
    errors: list[Any] = []
    for event, value in zip(events, values):
        producer.produce(ENGAGEMENT, key=event["draft_id"], value=value,
                         on_delivery=lambda err, _msg: errors.append(err) if err else None)
    remaining = producer.flush(30)
    if errors or remaining:
        raise KafkaError(f"delivery to {ENGAGEMENT} failed: {errors[0] if errors else 'timeout'}")
