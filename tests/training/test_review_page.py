"""The review queue in headless Chromium (Debian's chromium, driven by playwright): token
gate, approve with the keyboard, reject with a reason, edit then approve, progress shown;
decisions persist in SQLite and only approved examples reach the dataset."""

from __future__ import annotations

import httpx
import pytest

pytest.importorskip("fastapi")
from servers import serve  # noqa: E402

from tests.support.browser import chromium, expect, needs_chromium  # noqa: E402
from training import dataset, leads, teach, teacher_offline  # noqa: E402
from training.review_app import create_app  # noqa: E402
from training.review_store import ReviewStore  # noqa: E402

pytestmark = needs_chromium


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
    with serve(create_app(store, token)) as url, chromium() as browser:
        assert httpx.get(url + "/api/examples").status_code == 401
        assert httpx.get(url + "/?token=wrong").status_code == 401
        page = browser.new_page()
        page.goto(f"{url}/?token={token}")
        assert "token" not in page.url  # the token moved into an HttpOnly cookie
        expect(page.locator("#ex-id")).to_have_text(examples[0].example_id)
        assert "0 / 3 reviewed" in page.inner_text("#progress-text")
        assert "overall" in page.inner_text("#scores")
        page.keyboard.press("a")  # approve the first example
        expect(page.locator("#ex-id")).to_have_text(examples[1].example_id)
        page.keyboard.press("r")  # focuses the reason box: a rejection needs a reason
        page.keyboard.type("too generic for this lead")
        page.keyboard.press("Enter")
        expect(page.locator("#ex-id")).to_have_text(examples[2].example_id)
        assert "Globex" in page.inner_text("#flags")  # the rubric's flags are shown
        page.keyboard.press("e")
        page.fill("#body", "Hi there,\n\nAn edited email body.\n\nBest,\nSam")
        page.keyboard.press("Control+Enter")
        expect(page.locator("#progress-text")).to_contain_text("3 / 3 reviewed")
        page.screenshot(path=str(tmp_path / "review.png"))
        page.select_option("#f-status", "rejected")
        expect(page.locator("#ex-id")).to_have_text(examples[1].example_id)
    first, second, third = (store.get(e.example_id) for e in examples)
    assert first.status == "approved" and first.approved_by == "human:reviewer"
    assert second.status == "rejected" and second.reject_reason == "too generic for this lead"
    assert third.status == "approved" and third.body.startswith("Hi there,\n\nAn edited")
    manifest = dataset.build(store.all(), tmp_path / "ds")
    assert sum(manifest["counts"][s] for s in dataset.SPLITS) == 2
    assert manifest["filtering"]["dropped_rejected"] == 1


XSS = "<img src=x onerror=\"window.__xss=1;document.title='pwned'\">"


def test_markup_in_teacher_names_and_fields_runs_no_script(tmp_path, brief):
    """Stored XSS: a teacher name (the filter list) and every field the card shows carry a
    payload; the page must show them as text and run nothing (the old page built the teacher
    list as HTML: the payload ran with the cookie that also approves drafts)."""
    examples = teacher_offline.teach(leads.generated(2, 4, brief.campaign_id), brief)
    for ex in examples:
        ex.teacher = "openai:" + XSS
        ex.subject, ex.body = XSS, "Hi,\n" + XSS.replace("img", "svg")
        ex.lead = {**ex.lead, "company": XSS, "first_name": "<script>window.__xss=2</script>"}
        ex.rubric = {**ex.rubric, "flags": [XSS]}
    with ReviewStore(tmp_path / "review.sqlite") as store:
        store.add(examples)
        with serve(create_app(store, "t0k3n-for-test")) as url, \
                chromium() as browser:
            # The CSP would block an injected handler too: bypassed, so the escaping is tested.
            page = browser.new_context(bypass_csp=True).new_page()
            page.goto(f"{url}/?token=t0k3n-for-test")
            expect(page.locator("#ex-id")).to_have_text(examples[0].example_id)
            page.wait_for_load_state("networkidle")  # an injected <img src=x> has failed by now
            ran = page.evaluate("[window.__xss ?? null, document.title]")
            teacher_option = page.inner_text("#f-teacher")
        assert ran == [None, "Review queue - Miniature Outreach"]
    assert "onerror" in teacher_option  # shown as text


def test_decisions_record_the_logged_in_person_and_refuse_cross_site_writes(queue):
    store, examples = queue
    tokens = {"alice": "alice-token-0123456789", "bob": "bob-token-0123456789xx"}
    first, second, third = (e.example_id for e in examples)
    with serve(create_app(store, tokens)) as url, httpx.Client(base_url=url) as http:
        login = http.post("/login", data={"token": tokens["alice"], "next": "/"},
                          follow_redirects=False)
        links = http.get("/login").text
        # The cookie alone (what a cross-site form or fetch would carry) is not enough.
        no_header = http.post(f"/api/examples/{first}", json={"status": "approved"})
        cross = http.post(f"/api/examples/{first}", json={"status": "approved"},
                          headers={"x-outreach-csrf": "1", "origin": "https://evil.example",
                                   "sec-fetch-site": "cross-site"})
        claimed = http.post(f"/api/examples/{first}", headers={"x-outreach-csrf": "1"},
                            json={"status": "approved", "reviewer": "mallory"})
        bad_id = http.post("/api/examples/ex%20%3Cb%3E", headers={"x-outreach-csrf": "1"},
                           json={"status": "approved"})
    assert login.status_code == 303 and "set-cookie" in login.headers
    assert 'href="/drafts/"' in links and 'href="/"' in links  # queue and review page
    assert no_header.status_code == 403 and cross.status_code == 403
    assert claimed.status_code == 200, claimed.text
    assert bad_id.status_code == 400 and bad_id.json()["detail"] == "malformed example id"
    assert store.get(first).approved_by == "human:alice"  # from the login, not the body
    with serve(create_app(store, tokens)) as url:
        bob = httpx.post(f"{url}/api/examples/{second}", json={"status": "approved"},
                         headers={"authorization": f"Bearer {tokens['bob']}"})
    assert bob.status_code == 200 and store.get(second).approved_by == "human:bob"
    assert store.get(third).status == "pending"
