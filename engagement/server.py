"""Serve the public app and the operator dashboard with uvicorn (``outreach dashboard``), or
one app in a thread for tests.

``dashboard_main`` runs two servers in one process: the public app (one-click unsubscribe, ESP
webhook) on ``dashboard.host:port``, and the operator dashboard (KPIs, /api/snapshot,
/metrics, behind the login) on loopback, port ``dashboard.operator_port`` when that setting
exists, else the public port + 1.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Any

import uvicorn

from engagement.app import create_app
from engagement.public_app import create_public_app
from engagement.webhook_auth import check_bind
from outreach.errors import StackError
from outreach.settings import Settings
from outreach.web_auth import Operators, allowed_hosts, announce, new_token, secret_text

log = logging.getLogger(__name__)


def operators_of(settings: Settings) -> tuple[Operators, bool]:
    """(operators, generated): ``dashboard.operators`` (name -> token) when set, else
    training.review.token as "operator", else a fresh random token."""
    if settings.dashboard.operators:  # Operators reads SecretStr tokens as they are
        return Operators(settings.dashboard.operators), False
    token = secret_text(settings.training.review.token)
    if token:
        return Operators({"operator": token}), False
    return Operators({"operator": new_token()}), True


def dashboard_main(settings: Settings, host: str | None = None, port: int | None = None) -> None:
    """Run until SIGINT/SIGTERM (uvicorn installs the handlers)."""
    host, port = host or settings.dashboard.host, port or settings.dashboard.port
    check_bind(settings, host)  # ConfigError: no unauthenticated webhook beyond loopback
    operators, generated = operators_of(settings)
    op_port = settings.dashboard.operator_port or port + 1
    # A container needs it on its own interface for Prometheus (with a Bearer token).
    op_host = settings.dashboard.operator_host
    with contextlib.ExitStack() as stack:
        try:
            op_url = stack.enter_context(BackgroundServer(
                settings, op_port, op_host,
                app=create_app(settings, operators, allowed_hosts(op_host))))
        except StackError as exc:  # the public app (unsubscribes) must run regardless
            log.warning("operator dashboard not started on %s:%d: %s", op_host, op_port, exc)
        else:
            log.info("operator dashboard on %s/ (login)", op_url)
            if generated:
                announce(f"{op_url}/?token={next(iter(operators.tokens.values()))}")
        log.info("public app on http://%s:%d/ (unsubscribe, webhook)", host, port)
        uvicorn.run(create_public_app(settings, host), host=host, port=port,
                    log_level="warning")


class BackgroundServer:
    """A real uvicorn server on a thread; ``with BackgroundServer(settings, port) as url:``
    serves the public app, or ``app`` (e.g. engagement.app.create_app(settings, operators))."""

    def __init__(self, settings: Settings, port: int, host: str = "127.0.0.1",
                 app: Any = None) -> None:
        if app is None:
            check_bind(settings, host)
            app = create_public_app(settings, host)
        config = uvicorn.Config(app, host=host, port=port, log_level="warning")
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


__all__ = ["BackgroundServer", "dashboard_main", "operators_of", "allowed_hosts"]
