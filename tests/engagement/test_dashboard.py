"""The dashboard page in Debian's headless Chromium (selenium + chromedriver), not only its JSON.

The KPI tables are filled by the real FeedbackProcessor (in-process, real Redis) from template
drafts and the simulator's audience model, then the A/B evaluator decides; the page is read by
a real browser from a real uvicorn server, and a screenshot is kept for a person to look at.
"""

import asyncio
import os
import shutil
import time
from pathlib import Path

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from engagement.audience import AudienceModel
from outreach.leadgen import generate
from tests.support.sample_drafts import template_draft
from outreach.settings import VariantSpec
from outreach.stack import free_port
from engagement.app import create_app
from engagement.server import BackgroundServer
from schemas.codec import AvroCodec
from streams.ab_evaluator import ABEvaluator
from streams.feedback_processor import FeedbackProcessor
from tests.streams.feedback_helpers import tuned

pytestmark = pytest.mark.integration
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
ARMS = {"control": "generic", "mini-v2": "personalized"}
TOKEN = "dashboard-token-for-tests"


async def seed(settings, leads):
    codec = AvroCodec()
    proc = FeedbackProcessor(settings, codec=codec)
    audience = AudienceModel(settings.simulator)
    try:
        start_ms = int(time.time() * 1000) - len(leads) * 1000  # one draft a second: 20 windows
        for index, lead in enumerate(leads):
            variant = list(ARMS)[index % 2]
            draft = template_draft(lead, variant, ARMS[variant],
                                   created_at_ms=start_ms + index * 1000)
            await proc.on_draft(codec.encode("EmailDraft", draft))
            for n, reaction in enumerate(audience.react(draft, lead)):
                event = {"event_id": f"{draft['draft_id']}-{n}", "draft_id": draft["draft_id"],
                         "type": reaction.type, "email": None, "reply_text": reaction.reply_text,
                         "url": None, "source": "test",
                         "occurred_at": draft["created_at"] + int(reaction.delay_s * 1000)}
                await proc.on_event(codec.encode("EngagementEvent", event), None,
                                    "engagement.events", 0, n)
        state, _ = await ABEvaluator(settings, proc.redis, proc.kpi, codec).run_once(force=True)
        return state
    finally:
        await proc.close()


@pytest.mark.skipif(not os.path.exists(CHROMEDRIVER), reason="apt-get install chromium "
                    "chromium-driver (setup.sh does)")
def test_dashboard_shows_kpis_ab_state_and_plots_in_chromium(settings, tmp_path):
    settings = tuned(settings, abtest={
        "enabled": True, "champion": "control", "min_sends": 300,
        "variants": [VariantSpec(name="control"), VariantSpec(name="mini-v2")]},
        feedback={"kpi_window_s": 60})
    # A fixed campaign: the simulator's RNG is seeded per draft_id, which derives from the
    # campaign, so a per-run campaign made the A/B outcome a fresh random draw each run (it
    # ended "continue" instead of "promote" once in CI). Redis keys are per test anyway.
    leads = generate(1200, seed=13, campaign="dash-ab", suppressed=0).leads
    state = asyncio.run(seed(settings, leads))
    assert state.champion == "mini-v2", state.evidence  # the better-written arm won

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--window-size=1280,2200"):
        options.add_argument(flag)
    app = create_app(settings, {"ops": TOKEN})  # the operator dashboard, behind the login
    with BackgroundServer(settings, free_port(), app=app) as url:
        auth = {"authorization": f"Bearer {TOKEN}"}
        api = httpx.get(f"{url}/api/snapshot", headers=auth, timeout=60).json()
        metrics = httpx.get(f"{url}/metrics", headers=auth).text
        driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
        try:
            driver.get(f"{url}/?token={TOKEN}")  # the token becomes a session cookie
            champion = driver.find_element(By.ID, "champion").text
            rows = [r.get_attribute("data-variant") for r in
                    driver.find_elements(By.CSS_SELECTOR, "#variant-kpis tr[data-variant]")]
            evidence = driver.find_element(By.CSS_SELECTOR, "#ab-evidence").text
            history = driver.find_element(By.ID, "ab-history").text
            lines = {line.get_attribute("data-series") for line in driver.find_elements(
                By.CSS_SELECTOR, 'svg[data-chart="positive_reply_rate"] polyline.series')}
            rungs = [r.get_attribute("data-rung") for r in
                     driver.find_elements(By.CSS_SELECTOR, "#rung-kpis tr[data-rung]")]
            ops_cards = driver.find_element(By.ID, "ops-cards").text
            lag_groups = driver.find_element(By.ID, "lag").text
            shot = tmp_path / "dashboard.png"
            driver.save_screenshot(str(shot))
        finally:
            driver.quit()
    keep = Path(os.environ.get("OUTREACH_SCREENSHOT_DIR", tmp_path))
    keep.mkdir(parents=True, exist_ok=True)
    if keep != tmp_path:
        shutil.copy(shot, keep / "dashboard.png")
    assert champion == "mini-v2"
    assert sorted(rows) == ["control", "mini-v2"]
    assert "mini-v2" in evidence and "promote" in history
    assert lines == {"control", "mini-v2"}
    assert shot.stat().st_size > 20_000
    assert api["kpis"]["variant:mini-v2"]["counts"]["sent"] == 600
    # This test's evaluator set the champion gauge (python_info is always there: no witness).
    assert 'outreach_ab_champion{variant="mini-v2"} 1.0' in metrics
    assert 'outreach_ab_champion{variant="control"} 0.0' in metrics
    # The operator's view: drafts per rung (template drafts are the miniature's), spend against
    # the cap, the review queue, lag of the workers and the sender too, gauges on /metrics.
    assert rungs == ["miniature"]
    assert "LLM spend today" in ops_cards and "drafts awaiting review" in ops_cards
    assert "worker-small" in lag_groups and "sender" in lag_groups
    assert api["kpis"]["rung:miniature"]["counts"]["sent"] == 1200
    for gauge in ("outreach_consumer_lag_records", "outreach_approval_drafts",
                  "outreach_llm_budget_cap_usd"):
        assert gauge in metrics
