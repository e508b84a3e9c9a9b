"""The operator dashboard: KPIs and A/B state, its JSON, and /metrics, behind the login.

``add_dashboard_routes`` mounts it on any operator app (the review/approvals app mounts it at
/dashboard/); ``create_app`` is the dashboard alone, which ``outreach dashboard`` serves on a
loopback port beside the public app (engagement/public_app.py). Its readers (Redis, the ops
topic tail, the Prometheus collector) start on first use and stop with the app.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from engagement.campaign_page import CAMPAIGN_ID, campaign_view, render_campaign
from engagement.dashboard import render
from engagement.operator import OperatorCollector, OperatorView
from engagement.ops_reader import OpsReader
from engagement.snapshot import SnapshotSource
from engagement.step_funnel import read_step_funnel
from outreach.errors import OutreachError
from outreach.settings import Settings
from outreach.store import async_client
from outreach.web_auth import Operators, allowed_hosts, require_login

log = logging.getLogger(__name__)
LINKS = [("/", "dashboard"), ("/api/snapshot", "snapshot JSON"), ("/metrics", "metrics")]


class DashboardResources:
    """Redis, the ops reader and the collector, started by the first request that needs them
    (so a mounted dashboard costs nothing until an operator opens it)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = asyncio.Lock()
        self.source: SnapshotSource | None = None
        self._reader: OpsReader | None = None
        self._collector: OperatorCollector | None = None
        self._redis: Any = None

    async def snapshot(self) -> SnapshotSource:
        async with self._lock:
            if self.source is None:
                self._redis = async_client(self.settings.redis_url)
                self._reader = await asyncio.to_thread(OpsReader(self.settings).start)
                view = OperatorView(self.settings, self._reader)
                self._collector = OperatorCollector(view)
                REGISTRY.register(self._collector)
                self.source = SnapshotSource(self.settings, self._redis, view)
            return self.source

    async def close(self) -> None:
        if self._collector is not None:
            REGISTRY.unregister(self._collector)
        if self._reader is not None:
            self._reader.stop()
        if self._redis is not None:
            await self._redis.aclose()
        self.source = self._reader = self._collector = self._redis = None


def add_dashboard_routes(app: FastAPI, settings: Settings, prefix: str = "") -> DashboardResources:
    resources = DashboardResources(settings)
    # Stopped with the app: wrap whatever lifespan it has (Starlette 1.x has no shutdown hooks).
    previous = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(scope_app: Any) -> AsyncIterator[Any]:
        async with previous(scope_app) as state:
            try:
                yield state
            finally:
                await resources.close()

    app.router.lifespan_context = lifespan

    if prefix:
        @app.get(prefix, include_in_schema=False)
        async def to_dashboard() -> Response:
            return RedirectResponse(prefix + "/", status_code=307)

    @app.get(f"{prefix}/api/snapshot")
    async def snapshot() -> Response:
        try:
            return JSONResponse(await (await resources.snapshot()).collect())
        except OutreachError as exc:
            log.warning("snapshot unavailable: %s", exc)
            return JSONResponse({"error": "snapshot unavailable (see the server log)"},
                                status_code=503)

    @app.get(f"{prefix}/", response_class=HTMLResponse)
    async def dashboard() -> Response:
        try:
            data = await (await resources.snapshot()).collect()
        except OutreachError as exc:
            # The exception text can quote broker or Redis input: escaped, never raw HTML.
            return HTMLResponse(f"<h1>dashboard unavailable</h1><p>{html.escape(str(exc))}</p>",
                                status_code=503)
        return HTMLResponse(render(data, settings.dashboard.refresh_s, prefix))

    @app.get(f"{prefix}/api/campaigns/{{campaign_id}}")
    async def campaign_json(campaign_id: str) -> Response:
        if not CAMPAIGN_ID.fullmatch(campaign_id):
            return JSONResponse({"error": "malformed campaign id"}, status_code=400)
        try:
            source = await resources.snapshot()
            data = await source.collect()
            steps = await read_step_funnel(source.redis, settings.redis.key_prefix, campaign_id)
        except OutreachError as exc:
            log.warning("campaign view unavailable: %s", exc)
            return JSONResponse({"error": "campaign view unavailable (see the server log)"},
                                status_code=503)
        return JSONResponse(campaign_view(data, campaign_id, steps))

    @app.get(f"{prefix}/campaigns/{{campaign_id}}", response_class=HTMLResponse)
    async def campaign_page(campaign_id: str) -> Response:
        if not CAMPAIGN_ID.fullmatch(campaign_id):
            return HTMLResponse("<h1>malformed campaign id</h1>", status_code=400)
        try:
            source = await resources.snapshot()
            data = await source.collect()
            steps = await read_step_funnel(source.redis, settings.redis.key_prefix, campaign_id)
        except OutreachError as exc:
            return HTMLResponse(f"<h1>campaign view unavailable</h1><p>{html.escape(str(exc))}"
                                "</p>", status_code=503)
        return HTMLResponse(render_campaign(data, campaign_id, prefix, steps))

    @app.get("/metrics")
    async def metrics() -> Response:
        await resources.snapshot()  # registers the operator gauges
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return resources


def create_app(settings: Settings, operators: str | Mapping[str, Any] | Operators,
               hosts: list[str] | None = None) -> FastAPI:
    """The operator dashboard alone (every route behind the login)."""
    app = FastAPI(title="Miniature Outreach dashboard", docs_url=None, redoc_url=None,
                  openapi_url=None)
    add_dashboard_routes(app, settings)
    require_login(app, Operators.coerce(operators, "operator"), LINKS,
                  hosts if hosts is not None else allowed_hosts("127.0.0.1"))

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
