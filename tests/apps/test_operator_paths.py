"""Ids that are paths, in headless Chromium against the operator app (review queue, approval
queue, dashboard; apps/review_server.py on uvicorn, the real Redis and broker).

Issue 23's suspected finding: the review page posted to "/api/examples/" + id unencoded, so an
example id "../../drafts/api/held/<draft>" made the browser resolve the approval onto a held draft
(the URL's dot segments are removed before the request leaves). Here the page's own approve
key is pressed on such an example: the held draft must stay pending and the request must be
refused (and, as the control, the old page with the id unencoded does approve it). Then, from the signed-in page (so a 4xx is the id check, not the login), every route
that takes an id is requested with dot segments, encoded slashes and backslashes, NUL,
markup and over-long ids: each answers 4xx, no file is opened while they are answered (a
Python audit hook watches every open() in the process) and no byte of the files they aim at
comes back.
"""

from __future__ import annotations

import sys
import threading
import uuid
from pathlib import Path

import pytest

from apps.chaos import chaos_draft
from outreach.held import PENDING, HeldDrafts, HeldItem
from outreach.store import sync_client
from tests.support.browser import chromium, expect, needs_chromium
from tests.support.operator_app import operator_app, sign_in
from training import leads, review_app, teacher_offline
from training.brief import load_brief

pytestmark = [pytest.mark.integration, needs_chromium]
TOKEN = "paths-test-token-0123456789"
ROOT = Path(__file__).resolve().parents[2]

# Opened files, recorded while ``_watch`` is set. An audit hook cannot be removed, so it stays
# a flag test and a list append: ~1 us per event for the rest of the test process.
_watch = threading.Event()
_opened: list[str] = []


def _audit(event: str, args: tuple) -> None:
    if _watch.is_set() and event == "open" and isinstance(args[0], (str, bytes, Path)):
        _opened.append(str(args[0]))


sys.addaudithook(_audit)


def hostile_ids(secret: Path) -> list[str]:
    """Path segments as a page or a script could send them (already percent-encoded). A bare
    ".." or "%2e%2e" segment is left out: the browser removes it before sending (URL standard),
    so it reaches the server as the page above, which is not an id."""
    up = "..%2F" * 8
    return [f"{up}etc%2Fpasswd", f"%2e%2e%2f%2e%2e%2f{secret.name}",
            f"..%2F..%2F..%2F..%2F..%2F..%2F..%2F..%2F{str(secret).lstrip('/').replace('/', '%2F')}",
            "..%5C..%5Cwindows%5Cwin.ini", "ex-%00", "ex-%3Cscript%3E", "x" * 300,
            "%2Fetc%2Fpasswd"]


def approve_path_example(settings, tmp_path, name: str, browser, held: HeldDrafts):
    """Hold a draft, queue an example whose id walks onto it, press the page's approve key
    on it; returns (the POST's response, the held draft after it, the app's store path)."""
    brief = load_brief(ROOT / "training" / "briefs" / "default.yaml")
    example = teacher_offline.teach(leads.generated(1, 4, brief.campaign_id), brief)[0]
    victim = f"d-victim-{uuid.uuid4().hex[:8]}"
    example.example_id = f"../../drafts/api/held/{victim}"  # the old page resolved onto it
    draft = dict(chaos_draft(0, brief.campaign_id), draft_id=victim)  # a whole EmailDraft
    held.hold(HeldItem(draft=draft, lead={"lead_id": draft["lead_id"]}, rung="miniature",
                       reasons=["held: test"]))
    with operator_app(settings, tmp_path / f"{name}.sqlite", TOKEN,
                      examples=[example]) as (url, store):
        page = browser.new_page()
        sign_in(page, url, TOKEN)
        expect(page.locator("#ex-id")).to_have_text(example.example_id)
        with page.expect_response(lambda r: r.request.method == "POST") as posted:
            page.keyboard.press("a")  # the page's approve key on the "../" example
        response = posted.value
        status, sent_to = response.status, response.url
        page.close()
        example_status = store.get(example.example_id).status
    return status, sent_to, held.get(victim), example_status


def test_a_dot_segment_example_id_cannot_decide_a_held_draft(settings, tmp_path, monkeypatch):
    held = HeldDrafts(sync_client(settings.redis_url), settings.redis.key_prefix, 3600)
    with chromium() as browser:
        # The control: the page as it was (the id unencoded) approves the held draft, so the
        # witness below can fail.
        old_page = tmp_path / "review_page_old.html"
        text = review_app.PAGE.read_text()
        assert "encodeURIComponent(ex.example_id)" in text
        old_page.write_text(text.replace("encodeURIComponent(ex.example_id)", "ex.example_id"))
        monkeypatch.setattr(review_app, "PAGE", old_page)
        _, old_to, old_victim, _ = approve_path_example(settings, tmp_path, "old", browser, held)
        monkeypatch.undo()
        status, sent_to, victim, example_status = approve_path_example(
            settings, tmp_path, "now", browser, held)
    assert "/drafts/api/held/d-victim-" in old_to and old_victim.status == "approved"
    assert victim is not None and victim.status == PENDING  # not approved
    assert "/drafts/api/held/" not in sent_to, sent_to  # the dot segments stayed in the id
    assert 400 <= status < 500, status
    assert example_status == "pending"


def test_path_ids_are_refused_and_read_no_file(settings, tmp_path):
    secret = tmp_path / f"secret-{uuid.uuid4().hex[:6]}.txt"
    secret.write_text("SENTINEL-not-for-the-web\n")
    ids = hostile_ids(secret)
    with operator_app(settings, tmp_path / "review.sqlite", TOKEN) as (url, _), \
            chromium() as browser:
        page = browser.new_page()
        sign_in(page, url, TOKEN)
        _opened.clear()
        _watch.set()
        answers = page.evaluate("""async ([ids]) => {
            const out = {};
            const post = {method: "POST", body: JSON.stringify({status: "approved"}),
                          headers: {"content-type": "application/json",
                                    "X-Outreach-CSRF": "1"}};
            for (const id of ids) {
                for (const [what, path, init] of [
                        ["example", "/api/examples/" + id, post],
                        ["held", "/drafts/api/held/" + id, post],
                        ["drafts page", "/drafts/" + id, {}],
                        ["dashboard", "/dashboard/" + id, {}],
                        ["root", "/" + id, {}]]) {
                    const r = await fetch(path, init);
                    out[what + " " + id] = [r.status, await r.text()];
                }
            }
            return out;
        }""", [ids])
        _watch.clear()
        hostile_opened = list(_opened)
        _opened.clear()
        _watch.set()  # the control: the review page itself is read from its file
        control = page.evaluate("fetch('/').then(r => r.status)")
        _watch.clear()
    assert control == 200 and any(p.endswith("review_page.html") for p in _opened), _opened
    opened = [p for p in hostile_opened if not p.startswith((sys.prefix, sys.base_prefix, "/proc",
                                                      "/dev", "/sys"))
              and not p.endswith((".py", ".pyc"))]
    assert len(answers) == 5 * len(ids)
    for what, (status, body) in answers.items():
        assert 400 <= status < 500, (what, status, body[:200])
        assert "SENTINEL" not in body and "root:x:0:0" not in body, what
    assert opened == [], opened  # no file was opened while they were answered
