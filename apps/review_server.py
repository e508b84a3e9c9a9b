"""One review web app for people: teacher examples (training/review_app) and drafts held for
approval before sending (mail/approval_app, under /drafts), behind the same token.

The edited-draft re-score is the workers' own checks (generation.checks.check_draft) on the edit,
injected here because mail/ may not import workers/.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from mail.approval import ApprovalPublisher
from mail.approval_app import create_router
from outreach.held import HeldDrafts
from outreach.settings import Settings
from outreach.store import sync_client
from training.review_app import create_app
from training.review_store import ReviewStore

log = logging.getLogger(__name__)


def edit_checks(settings: Settings) -> Any:
    """(lead, draft, subject, body) -> the post-check reasons of an edited draft."""
    from generation.checks import check_draft
    from generation.draft import Draft

    def score(lead: dict[str, Any], draft: dict[str, Any], subject: str, body: str) -> list[str]:
        campaign = _campaign(settings, draft)
        if campaign is None:
            return []
        request = {"lead": lead, "withheld": draft.get("withheld") or {}}
        return check_draft(Draft(subject=subject.strip(), body=body.strip()), request,
                           settings.checks, campaign)

    return score


def _campaign(settings: Settings, draft: dict[str, Any]) -> Any:
    """The draft's campaign from the campaigns topic, or None when it cannot be read."""
    from outreach.errors import OutreachError

    try:
        from schemas.codec import AvroCodec
        from workers.campaigns import CampaignResolver

        resolver = CampaignResolver.open(settings, AvroCodec(), wait_s=1.0, timeout_s=5.0)
    except OutreachError as exc:
        log.warning("cannot re-score the edit (campaigns unavailable): %s", exc)
        return None
    try:
        return resolver.resolve({"campaign_id": draft["campaign"],
                                 "campaign_version": draft.get("campaign_version", 0),
                                 "lead": {"campaign": draft["campaign"]}})
    except OutreachError as exc:
        log.warning("cannot re-score the edit: %s", exc)
        return None
    finally:
        resolver.close()


def create_review_app(settings: Settings, store: ReviewStore, token: str,
                      score: Any = None) -> tuple[FastAPI, ApprovalPublisher]:
    held = HeldDrafts(sync_client(settings.redis_url), settings.redis.key_prefix,
                      settings.approval.item_ttl_s)
    publisher = ApprovalPublisher(settings, held)
    app = create_app(store, token)
    app.include_router(create_router(held, publisher, score))
    # Decisions a crash left unpublished go out at start (republishing is harmless: the
    # sender's claim on draft_id sends each once).
    published = publisher.flush()
    if published:
        log.info("published %d approved draft(s) left in the outbox", published)
    return app, publisher


def serve(settings: Settings, db_path: Path, host: str, port: int, token: str) -> None:
    import uvicorn

    with ReviewStore(db_path) as store:
        app, publisher = create_review_app(settings, store, token, edit_checks(settings))
        try:
            uvicorn.run(app, host=host, port=port, log_level="warning")
        finally:
            publisher.close()
