"""Serve the webhook + dashboard with uvicorn (``outreach dashboard``), or in a thread for tests."""

from __future__ import annotations

import logging
import threading
import time

import uvicorn

from outreach.errors import StackError
from outreach.settings import Settings
from engagement.app import create_app
from engagement.webhook_auth import check_bind

log = logging.getLogger(__name__)


def dashboard_main(settings: Settings, host: str | None = None, port: int | None = None) -> None:
    """Run until SIGINT/SIGTERM (uvicorn installs the handlers)."""
    host, port = host or settings.dashboard.host, port or settings.dashboard.port
    check_bind(settings, host)  # ConfigError: no unauthenticated webhook beyond loopback
    log.info("dashboard on http://%s:%d/ (webhook POST /webhooks/engagement, /metrics)", host, port)
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")


class BackgroundServer:
    """A real uvicorn server on a thread; ``with BackgroundServer(settings, port) as url:``."""

    def __init__(self, settings: Settings, port: int, host: str = "127.0.0.1") -> None:
        check_bind(settings, host)
        config = uvicorn.Config(create_app(settings), host=host, port=port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.url = f"http://{host}:{port}"
        self._thread = threading.Thread(target=self.server.run, name="dashboard", daemon=True)

    def __enter__(self) -> str:
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise StackError(f"dashboard did not start on {self.url}")
            time.sleep(0.05)
        return self.url

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=10)

