"""The campaign view's sequence funnel per step, read by Debian's headless Chromium.

Twelve 3-step sequences go through the scheduler's real transitions on the real Redis (the
handlers, as in test_transitions.py), every record handled twice as a redelivery after a crash
would, and through the real feedback processor (the campaign's KPI funnel); the operator
dashboard is served by a real uvicorn server and the page is read in a
real browser, with a screenshot kept for a person to look at (OUTREACH_SCREENSHOT_DIR).
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import httpx
import pytest

from engagement.app import create_app
from engagement.server import BackgroundServer
from outreach.ids import step_request_id
from outreach.settings import SequenceSettings, Settings
from outreach.stack import free_port
from outreach.step_funnel import funnel_key, parse
from schemas.campaign import Step
from schemas.codec import AvroCodec
from schemas.crm import crm_codec
from sequences.cap import ContactCap
from sequences.clock import Clock
from sequences.handlers import Handlers
from sequences.state import SequenceStore
from streams.feedback_processor import FeedbackProcessor
from tests.support.browser import chromium, needs_chromium
from seq_support import draft_for, first_request, lead

pytestmark = [pytest.mark.integration, needs_chromium]
TOKEN = "step-funnel-token-for-tests"
THREE = (Step(delay_business_days=0), Step(delay_business_days=2, brief="a short bump"),
         Step(delay_business_days=3, brief="a last note"))
OUT_OF_OFFICE = "I am out of the office until Monday with limited access to email."
# lead index -> (step, event type, reply text): what each of the 12 contacts does
PLAN = {0: (1, "REPLIED", "Not interested, thanks."), 1: (1, "REPLIED", "Please remove me."),
        2: (1, "REPLIED", "Sounds good, call me Thursday?"), 3: (1, "COMPLAINED", ""),
        4: (1, "REPLIED", OUT_OF_OFFICE), 5: (1, "REPLIED", OUT_OF_OFFICE),
        6: (2, "UNSUBSCRIBED", ""), 7: (2, "BOUNCED", ""), 8: (2, "REPLIED", "Not now.")}
NOT_YET_AT_STEP_3 = 9  # its step 3 is not due yet
# step -> sent, replied, auto-replies, stopped, finished, waiting for the next step
EXPECTED = {1: (12, 5, 2, 4, 0, 0), 2: (8, 1, 0, 3, 0, 1), 3: (4, 0, 0, 0, 4, 0)}


def run_sequences(settings: Settings, campaign: str, unique: str
                  ) -> tuple[list[dict], list[dict]]:
    """The 12 sequences through the scheduler's transitions; the drafts and events they saw."""
    store = SequenceStore(settings)
    h = Handlers(settings, store, ContactCap(settings, store.redis), Clock(), lambda c: THREE,
                 crm_codec())
    drafts, events = [], []
    try:
        for i in range(12):
            the_lead = lead(f"f{unique}-{i}", campaign, f"f{i}@{unique}.example")
            first = {**first_request(the_lead), "variant": "control"}  # the A/B champion
            for step in (1, 2, 3):
                if step == 3 and i == NOT_YET_AT_STEP_3:
                    break
                request = first if step == 1 else {
                    **first, "step": step,
                    "request_id": step_request_id(the_lead["lead_id"], campaign, step)}
                draft = draft_for(request)
                drafts.append(draft)
                for _ in range(2):  # a redelivered draft counts once
                    h.on_draft(draft)
                planned = PLAN.get(i)
                if planned and planned[0] == step:
                    event = {"event_id": f"ev-{draft['draft_id']}", "draft_id": draft["draft_id"],
                             "type": planned[1], "email": draft["to_email"],
                             "reply_text": planned[2] or None, "url": None, "source": "test",
                             "occurred_at": int(time.time() * 1000)}
                    events.append(event)
                    for _ in range(2):  # an ESP's retry: the same event id
                        h.on_event(event, b"")
                    if planned[2] != OUT_OF_OFFICE:
                        break
    finally:
        store.close()
    return drafts, events


async def feed_kpis(settings: Settings, drafts: list[dict], events: list[dict]) -> None:
    """The same records through the real feedback processor: the page's first funnel."""
    codec = AvroCodec()
    proc = FeedbackProcessor(settings, codec=codec)
    try:
        for draft in drafts:
            await proc.on_draft(codec.encode("EmailDraft", draft))
        for n, event in enumerate(events):
            await proc.on_event(codec.encode("EngagementEvent", event), None,
                                "engagement.events", 0, n)
    finally:
        await proc.close()


def test_campaign_page_shows_the_sequence_funnel_per_step_in_chromium(
        settings: Settings, unique: str, tmp_path: Path) -> None:
    settings = settings.model_copy(update={"sequences": SequenceSettings()})
    campaign = f"funnel-{unique}"
    drafts, events = run_sequences(settings, campaign, unique)
    asyncio.run(feed_kpis(settings, drafts, events))
    stored = parse(SequenceStore(settings).redis.hgetall(
        funnel_key(settings.redis.key_prefix, campaign)))
    assert [(r.step, r.sent, r.replied, r.auto_replied, r.stopped, r.finished)
            for r in stored] == [(s, *e[:5]) for s, e in EXPECTED.items()]

    app = create_app(settings, {"ops": TOKEN})
    with BackgroundServer(settings, free_port(), app=app) as url, chromium() as browser:
        api = httpx.get(f"{url}/api/campaigns/{campaign}",
                        headers={"authorization": f"Bearer {TOKEN}"}, timeout=60).json()
        page = browser.new_page(viewport={"width": 1100, "height": 1300})
        page.goto(f"{url}/campaigns/{campaign}?token={TOKEN}")  # the token becomes a cookie
        header = page.locator("#step-funnel th").all_inner_texts()
        rows = {int(tr.get_attribute("data-step")): tr.locator("td").all_inner_texts()
                for tr in page.locator("#step-funnel tr[data-step]").all()}
        title = page.locator("#campaign-id").inner_text()
        shot = Path(os.environ.get("OUTREACH_SCREENSHOT_DIR", tmp_path)) / "campaign-steps.png"
        shot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shot), full_page=True)
    assert title == campaign
    assert header == ["step", "sent", "replied", "of which auto-replies", "stopped here",
                      "finished here", "waiting for the next step"]
    assert rows == {step: [f"step {step}", *map(str, counts)] for step, counts in EXPECTED.items()}
    assert [[r[k] for k in ("sent", "replied", "auto_replied", "stopped", "finished", "waiting")]
            for r in api["steps"]] == [list(e) for e in EXPECTED.values()]
    # Both funnels count the same drafts: the campaign's sent = the steps' sent together.
    assert api["funnel"]["sent"] == sum(e[0] for e in EXPECTED.values()) == len(drafts)
    assert api["funnel"]["leads with an outcome"] == 12  # each lead once, follow-ups apart
    assert api["funnel"]["of which follow-ups (steps 2+)"] == 12
    assert api["ab"][0]["sent"] == len(drafts)
    assert shot.stat().st_size > 10_000
