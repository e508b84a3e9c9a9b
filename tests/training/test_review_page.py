"""The review queue in headless Chromium (Debian's chromium, driven by playwright): token
gate, approve with the keyboard, reject with a reason, edit then approve, progress shown;
decisions persist in SQLite and only approved examples reach the dataset."""

from __future__ import annotations

import shutil

import httpx
import pytest

pytest.importorskip("fastapi")
playwright_api = pytest.importorskip("playwright.sync_api")
from servers import serve  # noqa: E402

from training import dataset, leads, teach, teacher_offline  # noqa: E402
from training.review_app import create_app  # noqa: E402
from training.review_store import ReviewStore  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run"]
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")


@pytest.fixture()
def queue(tmp_path, brief):
    examples = teacher_offline.teach(leads.generated(3, 4, brief.campaign_id), brief)
    teach.score_examples(examples, brief)
    examples[2].body += " Jennifer at Globex saw 37% more replies."  # a planted flag to show
    teach.score_examples(examples[2:], brief)
    store = ReviewStore(tmp_path / "review.sqlite")
    store.add(examples)
    yield store, examples
    store.close()


def test_review_page_approves_rejects_and_edits(queue, tmp_path):
    store, examples = queue
    token = "t0k3n-for-test"
    with serve(create_app(store, token)) as url, playwright_api.sync_playwright() as pw:
        assert httpx.get(url + "/api/examples").status_code == 401
        assert httpx.get(url + "/?token=wrong").status_code == 401
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        page = browser.new_page()
        page.goto(f"{url}/?token={token}")
        assert "token" not in page.url  # the token moved into an HttpOnly cookie
        page.wait_for_function(f"document.getElementById('ex-id').textContent === "
                               f"'{examples[0].example_id}'")
        assert "0 / 3 reviewed" in page.inner_text("#progress-text")
        assert "overall" in page.inner_text("#scores")
        page.keyboard.press("a")  # approve the first example
        page.wait_for_function(f"document.getElementById('ex-id').textContent === "
                               f"'{examples[1].example_id}'")
        page.keyboard.press("r")  # focuses the reason box: a rejection needs a reason
        page.keyboard.type("too generic for this lead")
        page.keyboard.press("Enter")
        page.wait_for_function(f"document.getElementById('ex-id').textContent === "
                               f"'{examples[2].example_id}'")
        assert "Globex" in page.inner_text("#flags")  # the rubric's flags are shown
        page.keyboard.press("e")
        page.fill("#body", "Hi there,\n\nAn edited email body.\n\nBest,\nSam")
        page.keyboard.press("Control+Enter")
        page.wait_for_function("document.getElementById('progress-text').textContent"
                               ".startsWith('3 / 3')")
        page.screenshot(path=str(tmp_path / "review.png"))
        page.select_option("#f-status", "rejected")
        page.wait_for_function(f"document.getElementById('ex-id').textContent === "
                               f"'{examples[1].example_id}'")
        browser.close()
    first, second, third = (store.get(e.example_id) for e in examples)
    assert first.status == "approved" and first.approved_by == "human:reviewer"
    assert second.status == "rejected" and second.reject_reason == "too generic for this lead"
    assert third.status == "approved" and third.body.startswith("Hi there,\n\nAn edited")
    manifest = dataset.build(store.all(), tmp_path / "ds")
    assert sum(manifest["counts"][s] for s in dataset.SPLITS) == 2
    assert manifest["filtering"]["dropped_rejected"] == 1
