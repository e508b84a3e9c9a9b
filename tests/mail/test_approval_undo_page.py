"""The approval queue in headless Chromium (Debian's chromium, driven by playwright), against the
real broker and Redis: the queue is one click from the login page and the dashboard; approve
with the keyboard gets a visible confirmation and an undo window (undone: nothing sent); an
edit that fails the workers' checks is not sent, says why, and stays on screen across a
refresh; an override needs a recorded reason. Screenshots in OUTREACH_SCREENSHOT_DIR."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import pytest

from apps.review_server import edit_checks
from outreach.held import HeldDrafts, HeldItem
from outreach.store import sync_client
from tests.support.browser import chromium, expect, needs_chromium
from tests.support.operator_app import (held_lead, operator_app, passing_body,
                                        publish_relaywise, sign_in)

from mail_helpers import make_draft

pytestmark = [pytest.mark.integration, needs_chromium]
TOKEN = "undo-token-" + uuid.uuid4().hex[:6]
UNDO_S = 4.0
CLAIM = "Thanks for reaching out last week!"  # no earlier contact on record: a failed check


def _shot(page, tmp_path: Path, name: str) -> Path:
    keep = Path(os.environ.get("OUTREACH_SCREENSHOT_DIR", tmp_path))
    keep.mkdir(parents=True, exist_ok=True)
    path = keep / f"approval-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def test_approve_undo_failing_edit_and_override(mail_settings, tmp_path):
    settings = mail_settings.model_copy(update={"approval": mail_settings.approval.model_copy(
        update={"undo_s": UNDO_S})})
    campaign_id = f"c{uuid.uuid4().hex[:10]}"
    campaign = publish_relaywise(settings, campaign_id)
    held = HeldDrafts(sync_client(settings.redis_url), settings.redis.key_prefix, 3600)
    first, second = (make_draft(campaign_id, n, campaign_version=campaign.version, rung="llm",
                                subject="Quicker replies at Acme", body=passing_body(n))
                     for n in (1, 2))
    for n, draft in ((1, first), (2, second)):
        held.hold(HeldItem(draft=draft, lead=held_lead(n, campaign_id), rung="llm",
                           reasons=["text on screen (llm): passes every check",
                                    "miniature attempt 1: body too short", "held: escalated"],
                           held_at=1_000 + n))
    with operator_app(settings, tmp_path / "review.sqlite", TOKEN, edit_checks(settings)) as (
            url, _), chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 950})
        # One click from the login page...
        sign_in(page, url, TOKEN)
        page.goto(f"{url}/login")  # signed in: the page lists where to go
        page.click("#links a[href='/drafts/']")
        expect(page.locator("#counts")).to_contain_text("2 waiting")
        # ...and from the dashboard (mounted in the same operator app).
        page.goto(f"{url}/dashboard/")
        page.click("#queue-link a")
        expect(page.locator("#counts")).to_contain_text("2 waiting")
        expect(page.locator("#d-id")).to_have_text(first["draft_id"])

        # Approve with the keyboard: a confirmation with a countdown, then undo with `u`.
        page.keyboard.press("a")
        expect(page.locator("#confirm-text")).to_contain_text("Sent to the mail sender in")
        approved_shot = _shot(page, tmp_path, "1-approved-undo-window")
        page.keyboard.press("u")
        expect(page.locator("#confirm-text")).to_contain_text("Undone")
        expect(page.locator("#counts")).to_contain_text("2 waiting")
        undone = held.get(first["draft_id"])
        _shot(page, tmp_path, "2-undone")
        time.sleep(UNDO_S + 1.5)  # past the window: an undone decision is never published
        assert undone.status == "pending" and held.counts().get("published", 0) == 0

        # An edit that fails the checks: refused, said why, kept on screen.
        expect(page.locator("#d-id")).to_have_text(first["draft_id"])
        page.keyboard.press("e")
        page.locator("#body").press("Control+Home")
        page.locator("#body").type(CLAIM + " ")
        page.locator("#body").press("Control+Enter")
        expect(page.locator("#failed")).to_be_visible()
        expect(page.locator("#checks li").first).to_be_visible()
        checks_text = page.inner_text("#checks")
        page.evaluate("load()")  # the 10 s refresh: the refusal must survive it
        time.sleep(0.5)
        expect(page.locator("#failed")).to_be_visible()
        assert CLAIM in page.input_value("#body")
        failed_shot = _shot(page, tmp_path, "3-failed-edit")
        time.sleep(UNDO_S + 1.0)
        assert held.get(first["draft_id"]).status == "pending"  # not recorded, not sent
        assert held.counts().get("published", 0) == 0

        # Override only with a reason: an empty one sends nothing.
        page.click("#override-send")
        assert held.get(first["draft_id"]).status == "pending"
        page.fill("#override", "the lead wrote to us last week; CRM note missing")
        page.click("#override-send")
        expect(page.locator("#confirm-text")).to_contain_text("Edited (override)")
        override_shot = _shot(page, tmp_path, "4-override")

        # The next draft, approved with `a` and left alone: published after the window.
        expect(page.locator("#d-id")).to_have_text(second["draft_id"])
        page.keyboard.press("a")
        expect(page.locator("#confirm-text")).to_contain_text("handed to the mail sender",
                                                              timeout=(UNDO_S + 10) * 1000)
        deadline = time.monotonic() + 10
        while held.counts().get("published", 0) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        _shot(page, tmp_path, "5-published")
    assert approved_shot.exists() and failed_shot.exists() and override_shot.exists()
    assert "earlier contact" in checks_text, checks_text
    edited = held.get(first["draft_id"])
    assert edited.status == "edited" and edited.draft["body"].startswith(CLAIM)
    assert edited.decision_reason.startswith("override: the lead wrote to us")
    assert any("earlier contact" in c for c in edited.checks)
    assert held.get(second["draft_id"]).status == "approved"
    counts = held.counts()
    assert counts["published"] == 2 and counts["outbox"] == 0 and counts["undone"] == 1
