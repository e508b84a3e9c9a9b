"""`outreach review`: a web queue where a person approves, edits or rejects teacher examples.

FastAPI serving one page (review_page.html) and a small JSON API over ReviewStore. Protected by
a token: open /?token=... once (it is moved into an HttpOnly cookie and the URL is cleaned), or
send "Authorization: Bearer <token>" to the API. Compared in constant time (hmac).
"""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel

from outreach.errors import DataError
from training.review_store import ReviewStore

PAGE = Path(__file__).with_name("review_page.html")
COOKIE = "review_token"


class Decision(BaseModel):
    status: str
    reason: str | None = None
    subject: str | None = None
    body: str | None = None
    reviewer: str = "reviewer"


def new_token() -> str:
    return secrets.token_urlsafe(24)


def create_app(store: ReviewStore, token: str) -> FastAPI:
    app = FastAPI(title="Miniature Outreach review", docs_url=None, redoc_url=None)

    def authorized(request: Request) -> bool:
        given = request.cookies.get(COOKIE) or \
            request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        return bool(given) and hmac.compare_digest(given.encode(), token.encode())

    @app.middleware("http")
    async def require_token(request: Request, call_next: Any) -> Response:
        query_token = request.query_params.get("token")
        if request.url.path == "/" and query_token:
            if not hmac.compare_digest(query_token.encode(), token.encode()):
                return JSONResponse({"detail": "invalid token"}, status_code=401)
            response = RedirectResponse("/", status_code=303)
            response.set_cookie(COOKIE, token, httponly=True, samesite="strict")
            return response
        if not authorized(request):
            return JSONResponse({"detail": "token required: open /?token=..."}, status_code=401)
        return await call_next(request)

    @app.get("/", response_class=HTMLResponse)
    def page() -> str:
        return PAGE.read_text()

    @app.get("/api/examples")
    def examples(status: str | None = None, teacher: str | None = None,
                 flagged: str | None = None) -> dict[str, Any]:
        flag = None if flagged in (None, "", "any") else flagged == "yes"
        rows = store.list(status=status or None, teacher=teacher or None, flagged=flag)
        return {"examples": [vars(e) for e in rows], "counts": store.counts()}

    @app.post("/api/examples/{example_id}")
    def decide(example_id: str, decision: Decision) -> dict[str, Any]:
        try:
            ex = store.decide(example_id, decision.status, decision.reviewer, decision.reason,
                              decision.subject, decision.body)
        except DataError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from exc
        return {"example": vars(ex), "counts": store.counts()}

    return app


def serve(db_path: Path, host: str, port: int, token: str) -> None:
    import uvicorn

    with ReviewStore(db_path) as store:
        uvicorn.run(create_app(store, token), host=host, port=port, log_level="warning")
