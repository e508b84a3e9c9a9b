"""The operator app: teacher examples (training/review_app), drafts held for approval before
sending (mail/approval_app, under /drafts) and the KPI dashboard with /metrics
(engagement/app, under /dashboard), behind one login (outreach/web_auth.py: per-person
tokens, the reviewer recorded is the logged-in operator).

An edited draft must pass the workers' own checks before it is recorded or sent: the one
checks entry point (generation.checks.check_draft: format, campaign, reader's defects, contact
claims, withheld lead text and links), injected here because mail/ may not import
generation/. When the campaign cannot be read the edit cannot be checked, which is itself a
reason: the reviewer then sends it only with a recorded override.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from engagement.app import add_dashboard_routes
from mail.approval import ApprovalPublisher
from mail.approval_app import create_router
from outreach.errors import OutreachError
from outreach.held import HeldDrafts
from outreach.settings import Settings
from outreach.store import sync_client
from outreach.web_auth import Operators, allowed_hosts
from training.review_app import create_app
from training.review_store import ReviewStore

log = logging.getLogger(__name__)


def edit_checks(settings: Settings) -> Any:
    """(lead, draft, subject, body) -> every reason the edited draft must not be sent."""
    from generation.checks import check_draft
    from generation.draft import Draft

    def score(lead: dict[str, Any], draft: dict[str, Any], subject: str, body: str) -> list[str]:
        campaign = _campaign(settings, draft)
        if campaign is None:
            return [f"cannot check the edit: campaign {draft.get('campaign')!r} version "
                    f"{draft.get('campaign_version', 0)} is unavailable"]
        subject, body = subject.strip(), body.strip()
        request = {"lead": lead, "withheld": draft.get("withheld") or {}}
        return check_draft(Draft(subject=subject, body=body), request, settings.checks, campaign)

    return score


def _campaign(settings: Settings, draft: dict[str, Any]) -> Any:
    """The draft's campaign from the campaigns topic, or None when it cannot be read."""
    try:
        from schemas.codec import AvroCodec
        from workers.campaigns import CampaignResolver

        resolver = CampaignResolver.open(settings, AvroCodec(), wait_s=1.0, timeout_s=5.0)
    except OutreachError as exc:
        log.warning("cannot re-score the edit (campaigns unavailable): %s", exc)
        return None
    try:
        return resolver.version(draft["campaign"], int(draft.get("campaign_version", 0)))
    except OutreachError as exc:
        log.warning("cannot re-score the edit: %s", exc)
        return None
    finally:
        resolver.close()


def create_review_app(settings: Settings, store: ReviewStore,
                      token: str | Mapping[str, Any] | Operators, score: Any = None,
                      hosts: list[str] | None = None) -> tuple[FastAPI, ApprovalPublisher]:
    """The operator app; ``token``: one shared token (recorded as "reviewer"), or a mapping
    operator name -> token."""
    held = HeldDrafts(sync_client(settings.redis_url), settings.redis.key_prefix,
                      settings.approval.item_ttl_s)
    publisher = ApprovalPublisher(settings, held)
    app = create_app(store, token, hosts)
    app.include_router(create_router(held, publisher, score))
    add_dashboard_routes(app, settings, prefix="/dashboard")
    # Decisions a crash left unpublished go out at start (republishing is harmless: the
    # sender's claim on draft_id sends each once).
    published = publisher.flush()
    if published:
        log.info("published %d approved draft(s) left in the outbox", published)
    publisher.start()  # later decisions leave once their undo window passes
    return app, publisher


def serve(settings: Settings, db_path: Path, host: str, port: int,
          token: str | Mapping[str, Any]) -> None:
    import uvicorn

    operators = settings.dashboard.operators or token
    with ReviewStore(db_path) as store:
        app, publisher = create_review_app(settings, store, operators, edit_checks(settings),
                                           allowed_hosts(host))
        try:
            uvicorn.run(app, host=host, port=port, log_level="warning")
        finally:
            publisher.close()
