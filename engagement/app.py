"""FastAPI app: ESP webhook -> engagement.events, the dashboard, its JSON, and /metrics.

POST /webhooks/engagement takes one ESP-style event or a list (SendGrid, Mailgun, Postmark
vocabularies; see streams/engagement.py). Validation is all or nothing: any malformed entry
answers 422 with every reason and nothing is published; otherwise every event is produced
(key draft_id) and acknowledged by the broker before the 202, so an ESP that gets a 202 can
forget the batch (at-least-once; its retries are de-duplicated downstream by event_id).
"""

from __future__ import annotations

import asyncio
import json
import logging
from contextlib import asynccontextmanager
from typing import Any

import redis
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, generate_latest

from outreach.errors import KafkaError, OutreachError, SchemaError
from outreach.kafka import make_producer
from outreach.settings import Settings
from outreach.store import async_client
from outreach.topics import ENGAGEMENT
from engagement.dashboard import render
from engagement.unsubscribe import add_unsubscribe_routes
from engagement.webhook_auth import (Refusal, check_headers, check_signature, read_capped,
                                     replay_key)
from engagement.operator import OperatorCollector, OperatorView
from engagement.ops_reader import OpsReader
from engagement.snapshot import SnapshotSource
from schemas.codec import AvroCodec
from streams.engagement import from_webhook

log = logging.getLogger(__name__)
WEBHOOK = Counter("outreach_webhook_requests_total", "Engagement webhook requests", ["status"])
WEBHOOK_EVENTS = Counter("outreach_webhook_events_total", "Events published by the webhook",
                         ["type"])
MAX_BODY_BYTES = 5 * 1024 * 1024  # 1000 events with long reply threads fit comfortably


def _error(status: int, reason: str) -> JSONResponse:
    WEBHOOK.labels(str(status)).inc()
    return JSONResponse({"error": reason}, status_code=status)


def create_app(settings: Settings) -> FastAPI:
    codec = AvroCodec(registry_url=settings.kafka.schema_registry_url)
    resources: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI):  # noqa: ANN202
        resources["producer"] = make_producer(settings)
        resources["redis"] = async_client(settings.redis_url)
        reader = OpsReader(settings).start()
        view = OperatorView(settings, reader)
        collector = OperatorCollector(view)
        REGISTRY.register(collector)
        resources["snapshot"] = SnapshotSource(settings, resources["redis"], view)
        yield
        REGISTRY.unregister(collector)
        reader.stop()
        await asyncio.to_thread(resources["producer"].flush, 10)
        await resources["redis"].aclose()

    app = FastAPI(title="Miniature Outreach feedback", lifespan=lifespan)

    add_unsubscribe_routes(app, settings, resources, codec)  # RFC 8058 one-click

    @app.post("/webhooks/engagement", status_code=202)
    async def webhook(request: Request) -> Response:
        # Token, content type and declared size before reading; the signature (and its
        # one-time use) before parsing (engagement/webhook_auth.py).
        refusal = check_headers(request, settings, MAX_BODY_BYTES)
        body = refusal or await read_capped(request, MAX_BODY_BYTES)
        if isinstance(body, Refusal):
            return _error(body.status, body.reason)
        refusal, signature = check_signature(request.headers, body, settings)
        if refusal is None and signature is not None:
            try:
                fresh = await resources["redis"].set(replay_key(settings, signature), 1, nx=True,
                                                     ex=2 * settings.dashboard.webhook_tolerance_s)
            except redis.RedisError as exc:
                log.error("webhook replay check failed: %s", exc)
                return _error(503, "cannot check the signature for replay; retry later")
            refusal = None if fresh else Refusal(401, "signature already used (replay)")
        if refusal is not None:
            return _error(refusal.status, refusal.reason)
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            return _error(400, f"body is not JSON: {exc}")
        if isinstance(payload, list) and len(payload) > settings.dashboard.max_webhook_events:
            return _error(413, f"more than {settings.dashboard.max_webhook_events} events")
        try:
            events = from_webhook(payload)
            values = [codec.encode("EngagementEvent", e, topic=ENGAGEMENT) for e in events]
        except SchemaError as exc:
            return _error(422, str(exc))
        try:
            await asyncio.to_thread(_produce_all, resources["producer"], events, values)
        except KafkaError as exc:
            log.error("webhook could not publish: %s", exc)
            return _error(503, "could not publish the events; retry later")
        for e in events:
            WEBHOOK_EVENTS.labels(e["type"]).inc()
        WEBHOOK.labels("202").inc()
        return JSONResponse({"accepted": len(events),
                             "event_ids": [e["event_id"] for e in events]}, status_code=202)

    @app.get("/api/snapshot")
    async def snapshot() -> Response:
        try:
            return JSONResponse(await resources["snapshot"].collect())
        except OutreachError as exc:
            return JSONResponse({"error": str(exc)}, status_code=503)

    @app.get("/", response_class=HTMLResponse)
    async def dashboard() -> Response:
        try:
            data = await resources["snapshot"].collect()
        except OutreachError as exc:
            return HTMLResponse(f"<h1>dashboard unavailable</h1><p>{exc}</p>", status_code=503)
        return HTMLResponse(render(data, settings.dashboard.refresh_s))

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def _produce_all(producer: Any, events: list[dict[str, Any]], values: list[bytes]) -> None:
    """Produce every event and wait for all acknowledgements (blocking; run in a thread)."""
    errors: list[Any] = []
    for event, value in zip(events, values):
        producer.produce(ENGAGEMENT, key=event["draft_id"], value=value,
                         on_delivery=lambda err, _msg: errors.append(err) if err else None)
    remaining = producer.flush(30)
    if errors or remaining:
        raise KafkaError(f"delivery to {ENGAGEMENT} failed: {errors[0] if errors else 'timeout'}")
