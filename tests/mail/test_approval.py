"""Held drafts against the real broker, Redis, mail sender and SMTP sink, decided over real HTTP
in the review app: nothing held is sent before approval; approved and edited drafts are sent
exactly once across a republish and a sender restart; an edit becomes a preference pair."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from confluent_kafka import Consumer, TopicPartition

from apps.review_server import create_review_app, edit_checks
from mail import SinkInfo
from outreach.held import HeldDrafts, HeldItem
from outreach.kafka import consumer_config
from outreach.settings import Settings
from outreach.store import sync_client
from outreach.topics import FEEDBACK
from schemas.codec import AvroCodec
from tests.support.operator_app import (held_lead, operator_app, passing_body,
                                        publish_relaywise)
from training.review_store import ReviewStore

from mail_helpers import make_draft, produce, run_bounded

pytestmark = pytest.mark.integration
TOKEN = "test-token-" + uuid.uuid4().hex[:6]


def no_undo(settings: Settings) -> Settings:
    """Decisions published at once (the undo window has its own browser test)."""
    return settings.model_copy(update={"approval": settings.approval.model_copy(
        update={"undo_s": 0.0})})


def _feedback_pairs(settings: Settings, draft_id: str) -> list[dict]:
    codec = AvroCodec()
    consumer = Consumer(consumer_config(settings, f"fb-{uuid.uuid4().hex[:8]}",
                                        **{"enable.partition.eof": True}))
    try:
        parts = consumer.list_topics(FEEDBACK, timeout=10).topics[FEEDBACK].partitions
        consumer.assign([TopicPartition(FEEDBACK, p, 0) for p in parts])
        found, eof = [], set()
        while len(eof) < len(parts):
            msg = consumer.poll(5)
            if msg is None:
                break
            if msg.error():
                eof.add(msg.partition())
                continue
            record = codec.decode(msg.value(), "FeedbackExample")
            if record["draft_id"] == draft_id:
                found.append(record)
        return found
    finally:
        consumer.close()


def test_held_drafts_wait_for_approval_and_are_sent_once(mail_settings: Settings,
                                                         sink: SinkInfo, tmp_path):
    mail_settings = no_undo(mail_settings)
    campaign = f"c{uuid.uuid4().hex[:10]}"
    held = HeldDrafts(sync_client(mail_settings.redis_url), mail_settings.redis.key_prefix, 3600)
    approve, edit, reject, normal = (make_draft(campaign, n, rung="llm",
                                                rung_reasons=["miniature: attempt 1: too short"])
                                     for n in (1, 2, 3, 4))
    for draft in (approve, edit, reject):
        assert held.hold(HeldItem(draft=draft, lead=held_lead(int(draft["lead_id"][-1]), campaign),
                                  rung="llm", reasons=draft["rung_reasons"]))
    # Holding again (a redelivered request) keeps the first item.
    assert not held.hold(HeldItem(draft=approve, lead=held_lead(1, campaign), rung="llm", reasons=[]))

    # The sender runs while three drafts are held: only the one not held is sent.
    produce(mail_settings, normal)
    run_bounded(mail_settings, max_messages=1)
    assert [m["To"].addresses[0].addr_spec for m in sink.messages()] == [normal["to_email"]]

    with operator_app(mail_settings, tmp_path / "review.sqlite", TOKEN) as (base, _):
        auth = {"authorization": f"Bearer {TOKEN}"}
        assert httpx.get(f"{base}/drafts/api/held").status_code == 401
        page = httpx.get(f"{base}/drafts/", headers=auth)
        assert page.status_code == 200 and "Drafts awaiting approval" in page.text
        listed = httpx.get(f"{base}/drafts/api/held", headers=auth).json()
        assert {i["draft"]["draft_id"] for i in listed["items"]} == \
            {approve["draft_id"], edit["draft_id"], reject["draft_id"]}
        assert listed["counts"]["pending"] == 3

        def post(draft_id: str, **body) -> httpx.Response:
            return httpx.post(f"{base}/drafts/api/held/{draft_id}", json=body, headers=auth)

        assert post(reject["draft_id"], status="rejected").status_code == 400  # no reason
        assert post(reject["draft_id"], status="rejected",
                    reason="off-brand tone").status_code == 200
        assert post(approve["draft_id"], status="approved").status_code == 200
        edited = post(edit["draft_id"], status="edited", subject="Better subject",
                      body="Hi Lead2,\n\nA line a person wrote.\n\nBest,\nNoor")
        assert edited.status_code == 200
        assert edited.json()["item"]["original"]["subject"] == edit["subject"]
        assert post(approve["draft_id"], status="approved").status_code == 400  # decided
        counts = httpx.get(f"{base}/drafts/api/held", headers=auth).json()["counts"]
    assert counts["pending"] == 0 and counts["outbox"] == 0 and counts["published"] == 2
    assert counts["rejected"] == 1 and counts["approved"] == 1 and counts["edited"] == 1

    # A crash between producing and leaving the outbox republishes the approved draft.
    sync_client(mail_settings.redis_url).sadd(f"{mail_settings.redis.key_prefix}:held:outbox",
                                              approve["draft_id"])
    with ReviewStore(tmp_path / "review.sqlite") as store:
        _app, publisher = create_review_app(mail_settings, store, TOKEN)  # flushes at start
        publisher.close()

    # Three records (approved, edited, the republished copy; partitions interleave them) over
    # two sender runs with a restart between: each approved draft reaches the recipient once.
    first = run_bounded(mail_settings, max_messages=2)
    second = run_bounded(mail_settings, max_messages=1)
    assert first.sent + second.sent == 2
    assert first.skipped["duplicate_at_send"] + second.skipped["duplicate_at_send"] == 1
    sent = {m["To"].addresses[0].addr_spec: m for m in sink.messages()}
    assert len(sink.messages()) == 3  # normal + approved + edited; the rejected one never
    assert reject["to_email"] not in sent
    assert sent[edit["to_email"]]["Subject"] == "Better subject"
    assert "A line a person wrote." in sent[edit["to_email"]].get_body().get_content()
    assert sent[approve["to_email"]]["Subject"] == approve["subject"]

    pairs = _feedback_pairs(mail_settings, edit["draft_id"])
    assert len(pairs) == 1 and pairs[0]["kind"] == "PREFERENCE_PAIR"
    assert pairs[0]["subject"] == "Better subject"
    assert pairs[0]["rejected_subject"] == edit["subject"] and "human_edit" in pairs[0]["labels"]


CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@pytest.mark.skipif(not Path(CHROMEDRIVER).exists(), reason="apt-get install chromium "
                    "chromium-driver (setup.sh does)")
def test_keyboard_edit_and_approve_in_chromium(mail_settings: Settings, tmp_path):
    """A person edits with `e`, sends with Ctrl+Enter and approves the next with `a`; the page
    shows the word diff of the edit. Screenshot kept in OUTREACH_SCREENSHOT_DIR."""
    import os
    import shutil
    import time

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    mail_settings = no_undo(mail_settings)
    campaign = f"c{uuid.uuid4().hex[:10]}"
    held = HeldDrafts(sync_client(mail_settings.redis_url), mail_settings.redis.key_prefix, 3600)
    first, second = (make_draft(campaign, n, rung="review",
                                rung_reasons=["llm: llm attempt 2: body too short"])
                     for n in (1, 2))
    for n, draft in ((1, first), (2, second)):
        held.hold(HeldItem(draft=draft, lead=held_lead(n, campaign), rung="review",
                           reasons=draft["rung_reasons"], held_at=1_000 + n))
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1400,1000"):
        options.add_argument(flag)
    with operator_app(mail_settings, tmp_path / "review.sqlite", TOKEN) as (base, _):
        driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER),
                                  options=options)
        try:
            driver.get(f"{base}/?token={TOKEN}")  # the token becomes a cookie
            driver.get(f"{base}/drafts/")
            deadline = time.monotonic() + 15
            while "2 waiting" not in driver.find_element(By.ID, "counts").text:
                assert time.monotonic() < deadline, "the queue did not load"
                time.sleep(0.2)
            assert driver.find_element(By.ID, "d-id").text == first["draft_id"]
            driver.find_element(By.TAG_NAME, "body").send_keys("e")
            driver.find_element(By.ID, "body").send_keys(" A sentence a person added.")
            diff = driver.find_element(By.ID, "diff").get_attribute("innerHTML")
            shot = tmp_path / "approval.png"
            driver.save_screenshot(str(shot))
            driver.find_element(By.ID, "body").send_keys(Keys.CONTROL, Keys.ENTER)
            while "1 edited" not in driver.find_element(By.ID, "counts").text:
                assert time.monotonic() < deadline + 15, "the edit was not recorded"
                time.sleep(0.2)
            driver.find_element(By.TAG_NAME, "body").send_keys("a")
            while "1 approved" not in driver.find_element(By.ID, "counts").text:
                assert time.monotonic() < deadline + 30, "the approval was not recorded"
                time.sleep(0.2)
        finally:
            driver.quit()
    keep = Path(os.environ.get("OUTREACH_SCREENSHOT_DIR", tmp_path))
    keep.mkdir(parents=True, exist_ok=True)
    if keep != tmp_path:
        shutil.copy(shot, keep / "approval.png")
    assert "<ins>" in diff and "person" in diff
    edited, approved = held.get(first["draft_id"]), held.get(second["draft_id"])
    assert edited.status == "edited" and edited.draft["body"].endswith("A sentence a person added.")
    assert approved.status == "approved"
    assert held.counts()["published"] == 2 and held.counts()["outbox"] == 0


def test_an_edit_is_rescored_with_the_workers_checks(mail_settings: Settings, tmp_path):
    campaign_id = f"c{uuid.uuid4().hex[:10]}"
    campaign = publish_relaywise(mail_settings, campaign_id)
    held = HeldDrafts(sync_client(mail_settings.redis_url), mail_settings.redis.key_prefix, 3600)
    draft = make_draft(campaign_id, 1, campaign_version=campaign.version)
    held.hold(HeldItem(draft=draft, lead=held_lead(1, campaign_id), rung="review", reasons=[]))
    auth = {"authorization": f"Bearer {TOKEN}"}
    url = f"/drafts/api/held/{draft['draft_id']}"
    good_body = passing_body(1)
    with operator_app(mail_settings, tmp_path / "review.sqlite", TOKEN,
                      edit_checks(mail_settings)) as (base, _), \
            httpx.Client(base_url=base, headers=auth, timeout=60) as http:
        short = http.post(url, json={"status": "edited", "subject": "Quick idea",
                                     "body": "Hello there.\n\nBest,\nNoor"})
        link = http.post(url, json={"status": "edited", "subject": "Quick idea",
                                    "body": good_body + "\nhttps://evil.example/x"})
        pending_after = held.get(draft["draft_id"]).status
        override = http.post(url, json={"status": "edited", "subject": "Quick idea",
                                        "body": good_body + "\nhttps://evil.example/x",
                                        "override": "legal asked for this link"})
    # A failing edit is refused with every reason, nothing is recorded or sent...
    assert short.status_code == 422 and link.status_code == 422, (short.text, link.text)
    assert any("recipient first name 'Lead1' missing" in c for c in short.json()["checks"])
    assert any("body too short" in c for c in short.json()["checks"])
    assert any("evil.example" in c for c in link.json()["checks"]), link.json()
    assert pending_after == "pending"
    # ...unless the reviewer overrides with a reason, recorded beside the failed checks.
    assert override.status_code == 200, override.text
    item = override.json()["item"]
    assert item["decision_reason"].startswith("override: legal asked")
    assert any("evil.example" in c for c in item["checks"]) and item["reviewer"] == "reviewer"
