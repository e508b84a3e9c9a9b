"""The approval queue on the web: held drafts, approve / edit / reject with a reason.

An APIRouter (mounted under /drafts) for the review app: apps/ mounts it on
training/review_app.create_app, so one page, one token (cookie or Bearer) guards both the
teacher-example queue and this one. Every decision publishes at once (ApprovalPublisher), and
the page shows an edit's word diff against the model's text and the post-checks of the edit
(``score``, injected by apps/ so mail/ needs no worker code).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from outreach.errors import DataError
from outreach.held import EDITED, HeldDrafts
from mail.approval import ApprovalPublisher

PAGE = Path(__file__).with_name("approval_page.html")
Score = Callable[[dict[str, Any], dict[str, Any], str, str], list[str]]  # lead, draft, subj, body


class DraftDecision(BaseModel):
    status: str  # approved | edited | rejected
    reason: str | None = None
    subject: str | None = None
    body: str | None = None
    reviewer: str = "reviewer"


def create_router(held: HeldDrafts, publisher: ApprovalPublisher,
                  score: Score | None = None) -> APIRouter:
    router = APIRouter(prefix="/drafts")

    @router.get("", response_class=HTMLResponse)
    @router.get("/", response_class=HTMLResponse)
    def page() -> str:
        return PAGE.read_text()

    @router.get("/api/held")
    def pending() -> dict[str, Any]:
        return {"items": [vars(i) for i in held.pending()], "counts": held.counts()}

    @router.post("/api/held/{draft_id}")
    async def decide(draft_id: str, decision: DraftDecision) -> dict[str, Any]:
        checks = None
        if decision.status == EDITED and score is not None:
            item = held.get(draft_id)
            if item is not None:
                checks = score(item.lead, item.draft, decision.subject or "",
                               decision.body or "")
        try:
            item = held.decide(draft_id, decision.status, decision.reviewer, decision.reason,
                               decision.subject, decision.body, checks)
        except DataError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from exc
        await asyncio.to_thread(publisher.flush)
        return {"item": vars(item), "counts": held.counts()}

    return router
