"""The approval queue on the web: held drafts, approve / edit / reject with a reason.

An APIRouter (mounted under /drafts) for the operator app: apps/ mounts it on
training/review_app.create_app, so one login (outreach/web_auth.py) guards the teacher-example
queue and this one, and the reviewer recorded is the logged-in operator.

An edit is checked before anything is recorded or published: ``score`` (injected by apps/, so
mail/ needs no generation code) runs the workers' own post-checks on the edited text. An edit
that fails them is refused (422 with every reason) unless the reviewer overrides with a
reason, which is recorded with the decision beside the failed checks.

Every decision waits ``approval.undo_s`` before it is published (mail/approval.py); POST
``/api/held/<id>/undo`` takes it back meanwhile (409 once it is too late).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel

from outreach.errors import DataError
from outreach.held import EDITED, HeldDrafts
from outreach.web_auth import operator, with_nonce
from mail.approval import ApprovalPublisher

PAGE = Path(__file__).with_name("approval_page.html")
Score = Callable[[dict[str, Any], dict[str, Any], str, str], list[str]]  # lead, draft, subj, body
DRAFT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,199}")


class DraftDecision(BaseModel):
    status: str  # approved | edited | rejected
    reason: str | None = None
    subject: str | None = None
    body: str | None = None
    override: str | None = None  # why an edit that fails the checks is sent anyway


def create_router(held: HeldDrafts, publisher: ApprovalPublisher,
                  score: Score | None = None) -> APIRouter:
    router = APIRouter(prefix="/drafts")

    @router.get("", response_class=HTMLResponse)
    @router.get("/", response_class=HTMLResponse)
    def page(request: Request) -> str:
        return with_nonce(PAGE.read_text(), request)

    @router.get("/api/held")
    def pending() -> dict[str, Any]:
        return {"items": [vars(i) for i in held.pending()], "counts": held.counts(),
                "undo_s": publisher.undo_s}

    @router.post("/api/held/{draft_id}")
    async def decide(draft_id: str, decision: DraftDecision, request: Request) -> Response:
        if not DRAFT_ID.fullmatch(draft_id):
            raise HTTPException(status_code=400, detail="malformed draft id")
        checks, reason = None, decision.reason
        if decision.status == EDITED and score is not None:
            item = held.get(draft_id)
            if item is not None:
                checks = await asyncio.to_thread(score, item.lead, item.draft,
                                                 decision.subject or "", decision.body or "")
            override = (decision.override or "").strip()
            if checks and not override:
                return JSONResponse({"detail": "the edit fails the checks: " + "; ".join(checks)
                                     + " (fix it, or override with a reason)",
                                     "checks": checks}, status_code=422)
            if checks:
                reason = f"override: {override}" + (f"; {reason}" if reason else "")
        try:
            item = held.decide(draft_id, decision.status, operator(request), reason,
                               decision.subject, decision.body, checks)
        except DataError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from exc
        await asyncio.to_thread(publisher.flush)  # at once when there is no undo window
        return JSONResponse({"item": vars(item), "counts": held.counts(),
                             "undo_until": (item.decided_at or 0) + int(publisher.undo_s * 1000)})

    @router.post("/api/held/{draft_id}/undo")
    async def undo(draft_id: str) -> Response:
        if not DRAFT_ID.fullmatch(draft_id):
            raise HTTPException(status_code=400, detail="malformed draft id")
        try:
            item = await asyncio.to_thread(held.undo, draft_id, publisher.undo_s)
        except DataError as exc:
            raise HTTPException(status_code=409, detail=str(exc)) from exc
        return JSONResponse({"item": vars(item), "counts": held.counts()})

    return router
