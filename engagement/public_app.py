"""The public app: what recipients and the ESP reach, nothing an operator reads.

Served on ``dashboard.host:port``, the one host that must be reachable from the internet (the
one-click unsubscribe links in every message point at it): POST/GET /unsubscribe/<token>
(RFC 8058), POST /webhooks/engagement (signed ESP events) and /healthz. No dashboard, no
metrics, no /docs or /openapi.json: those are on the operator app, behind a login.
TrustedHost answers only the Host names it is meant for (a DNS-rebinding page cannot use the
loopback webhook without a secret).
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI

from engagement.unsubscribe import add_unsubscribe_routes
from engagement.webhook import add_webhook_route
from outreach.kafka import make_producer
from outreach.settings import Settings
from outreach.store import async_client
from outreach.web_auth import add_security_headers, allowed_hosts
from schemas.codec import AvroCodec


def public_hosts(settings: Settings, bind_host: str) -> list[str]:
    """Host names of the public app: the bind address, loopback, the unsubscribe URL's host
    and ``dashboard.allowed_hosts``."""
    names = list(settings.dashboard.allowed_hosts)
    base = settings.sender.unsubscribe_base_url
    if base:
        names.append(urlsplit(base).hostname or "")
    return allowed_hosts(bind_host, [n for n in names if n])


def create_public_app(settings: Settings, bind_host: str | None = None) -> FastAPI:
    codec = AvroCodec(registry_url=settings.kafka.schema_registry_url)
    resources: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI):  # noqa: ANN202
        # An ESP waits seconds, not minutes, for an answer: events the broker cannot take in
        # 10 s fail the request (503, the ESP retries) instead of librdkafka's 5 minutes.
        resources["producer"] = make_producer(settings, **{"message.timeout.ms": 10_000})
        resources["redis"] = async_client(settings.redis_url)
        yield
        await asyncio.to_thread(resources["producer"].flush, 10)
        await resources["redis"].aclose()

    app = FastAPI(title="Miniature Outreach public", lifespan=lifespan, docs_url=None,
                  redoc_url=None, openapi_url=None)
    add_unsubscribe_routes(app, settings, resources, codec)  # RFC 8058 one-click
    add_webhook_route(app, settings, resources, codec)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    add_security_headers(app, public_hosts(settings, bind_host or settings.dashboard.host))
    return app
