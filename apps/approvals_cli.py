"""`outreach approvals`: the review app with the queue of drafts held before sending."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from outreach.cli_support import ConfigOpt, load_cli_settings


def register(app: typer.Typer) -> None:
    @app.command()
    def approvals(config: ConfigOpt = None,
                  db: Annotated[Optional[Path], typer.Option(help="Teacher-example review "
                                                             "SQLite (shared page).")] = None,
                  host: Annotated[Optional[str], typer.Option(help="Bind address.")] = None,
                  port: Annotated[Optional[int], typer.Option(help="Port.")] = None) -> None:
        """Serve drafts held for approval (escalated, rule-flagged or QC-sampled): approve (a),
        edit (e, Ctrl+Enter sends), reject with a reason (r). Nothing held is sent before a
        decision; approved and edited drafts go to email.drafts once; an edit is kept as a
        preference pair. Same app and login as `outreach review` (teacher examples at /)."""
        from apps.review_server import serve
        from outreach.web_auth import announce, new_token

        settings = load_cli_settings(config)
        cfg = settings.training.review
        token = cfg.token.get_secret_value() if cfg.token else new_token()
        host, port = host or cfg.host, port or cfg.port
        if cfg.token:  # the operators know their tokens: never echo a configured one
            announce(f"http://{host}:{port}/drafts/")
        else:  # a fresh token: the link once, on a terminal only (never into a log)
            announce(f"http://{host}:{port}/drafts/?token={token}")
        serve(settings, db or cfg.db_path, host, port, token)
