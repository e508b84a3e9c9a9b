"""`outreach review`: a web queue where a person approves, edits or rejects teacher examples.

FastAPI serving one page (review_page.html) and a small JSON API over ReviewStore, behind the
operators' login (outreach/web_auth.py): per-person tokens, a signed expiring session cookie,
CSRF checks, CSP with a per-response nonce. The reviewer recorded with a decision is the
logged-in operator, never a name the client sends.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from outreach.errors import DataError
from outreach.web_auth import Operators, allowed_hosts, announce, new_token, operator, \
    require_login, with_nonce
from training.review_store import ReviewStore

__all__ = ["create_app", "new_token", "serve", "announce", "EXAMPLE_ID"]
PAGE = Path(__file__).with_name("review_page.html")
# Ids are "ex-<hex>" (training/records.example_id); imported queues may use other safe ids.
EXAMPLE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
LINKS = [("/", "teacher-example review"), ("/drafts/", "approval queue (drafts held before "
                                                       "sending)"), ("/dashboard/", "dashboard")]


class Decision(BaseModel):
    status: str
    reason: str | None = None
    subject: str | None = None
    body: str | None = None


def create_app(store: ReviewStore, token: str | Mapping[str, Any] | Operators,
               hosts: list[str] | None = None) -> FastAPI:
    """The review app; ``token`` is one shared token (recorded as "reviewer"), a mapping of
    operator name -> token, or an ``Operators``. ``hosts``: the Host headers it answers."""
    operators = Operators.coerce(token)
    app = FastAPI(title="Miniature Outreach review", docs_url=None, redoc_url=None,
                  openapi_url=None)
    require_login(app, operators, LINKS,
                  hosts if hosts is not None else allowed_hosts("127.0.0.1"))
    app.state.operators = operators

    @app.get("/", response_class=HTMLResponse)
    def page(request: Request) -> str:
        return with_nonce(PAGE.read_text(), request)

    @app.get("/api/examples")
    def examples(status: str | None = None, teacher: str | None = None,
                 flagged: str | None = None) -> dict[str, Any]:
        flag = None if flagged in (None, "", "any") else flagged == "yes"
        rows = store.list(status=status or None, teacher=teacher or None, flagged=flag)
        return {"examples": [vars(e) for e in rows], "counts": store.counts()}

    @app.post("/api/examples/{example_id}")
    def decide(example_id: str, decision: Decision, request: Request) -> dict[str, Any]:
        if not EXAMPLE_ID.fullmatch(example_id):
            raise HTTPException(status_code=400, detail="malformed example id")
        try:
            ex = store.decide(example_id, decision.status, operator(request), decision.reason,
                              decision.subject, decision.body)
        except DataError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from exc
        return {"example": vars(ex), "counts": store.counts()}

    return app


def serve(db_path: Path, host: str, port: int, token: str | Mapping[str, Any]) -> None:
    import uvicorn

    with ReviewStore(db_path) as store:
        uvicorn.run(create_app(store, token, allowed_hosts(host)), host=host, port=port,
                    log_level="warning")
