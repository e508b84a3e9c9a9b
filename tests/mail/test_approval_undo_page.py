"""The approval queue in headless Chromium (Debian's chromium, driven by playwright), against the
real broker and Redis: the queue is one click from the login page and the dashboard; approve
with the keyboard gets a visible confirmation and an undo window (undone: nothing sent); an
edit that fails the workers' checks is not sent, says why, and stays on screen across a
refresh; an override needs a recorded reason. Screenshots in OUTREACH_SCREENSHOT_DIR."""

from __future__ import annotations

import os
import shutil
import time
import uuid
from pathlib import Path

import pytest

from apps.campaigns import publish_campaign
from apps.review_server import create_review_app, edit_checks
from outreach.held import HeldDrafts, HeldItem
from outreach.store import sync_client
from schemas.campaign import parse_campaign
from tests.training.servers import serve
from training.review_store import ReviewStore

from mail_helpers import make_draft

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run"]
pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")]
TOKEN = "undo-token-" + uuid.uuid4().hex[:6]
UNDO_S = 4.0
CLAIM = "Thanks for reaching out last week!"  # no earlier contact on record: a failed check


def _lead(n: int, campaign: str) -> dict:
    return {"lead_id": f"lead-{n}", "campaign": campaign, "email": f"lead{n}@{campaign}.example",
            "first_name": f"Lead{n}", "last_name": None, "company": "Acme GmbH", "role": None,
            "industry": None, "company_size": None, "pain_point": None, "notes": None,
            "lead_score": 50, "deal_size": 0.0, "segment": "smb", "priority": "normal",
            "source": "crm", "created_at": 1_767_225_600_000}


def _body(n: int) -> str:
    return (f"Hi Lead{n},\n\nRelaywise drafts a personal follow-up for every inquiry, so teams "
            "answer inquiries 3x faster. It fits how Acme GmbH handles requests today and takes "
            "a day to set up.\n\nWould you be open to a 15-minute call next week?\n\n"
            "Best,\nNoor Haddad")


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
    campaign = publish_campaign(settings, parse_campaign({
        "campaign_id": campaign_id, "product": "Relaywise",
        "sender": {"name": "Noor Haddad", "company": "Relaywise"},
        "value_proposition": "Relaywise drafts a personal follow-up for every inquiry.",
        "calls_to_action": ["Would you be open to a 15-minute call next week?"],
        "proof_points": [{"id": "pp-1", "text": "Teams answer inquiries 3x faster."}]}))
    held = HeldDrafts(sync_client(settings.redis_url), settings.redis.key_prefix, 3600)
    first, second = (make_draft(campaign_id, n, campaign_version=campaign.version, rung="llm",
                                subject="Quicker replies at Acme", body=_body(n))
                     for n in (1, 2))
    for n, draft in ((1, first), (2, second)):
        held.hold(HeldItem(draft=draft, lead=_lead(n, campaign_id), rung="llm",
                           reasons=["text on screen (llm): passes every check",
                                    "miniature attempt 1: body too short", "held: escalated"],
                           held_at=1_000 + n))
    with ReviewStore(tmp_path / "review.sqlite") as store:
        app, publisher = create_review_app(settings, store, TOKEN, edit_checks(settings))
        with serve(app) as url, playwright_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
            page = browser.new_page(viewport={"width": 1400, "height": 950})
            # One click from the login page...
            page.goto(f"{url}/login")
            page.fill("input[name=token]", TOKEN)
            with page.expect_navigation():
                page.click("button")
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
            browser.close()
        publisher.close()
    assert approved_shot.exists() and failed_shot.exists() and override_shot.exists()
    assert "earlier contact" in checks_text, checks_text
    edited = held.get(first["draft_id"])
    assert edited.status == "edited" and edited.draft["body"].startswith(CLAIM)
    assert edited.decision_reason.startswith("override: the lead wrote to us")
    assert any("earlier contact" in c for c in edited.checks)
    assert held.get(second["draft_id"]).status == "approved"
    counts = held.counts()
    assert counts["published"] == 2 and counts["outbox"] == 0 and counts["undone"] == 1
