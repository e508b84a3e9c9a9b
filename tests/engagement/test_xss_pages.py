"""Every page a person opens, in headless Chromium, with a script payload in every field it
renders (lead, draft, campaign, teacher, model, settings, login redirect): the payloads show
as text and no script runs (each payload would set window.__xss or document.title).

The browser bypasses the pages' Content-Security-Policy here, so what is tested is the
escaping itself (the CSP would hide a regression in it: the old review page built its teacher
list as HTML); the CSP header is asserted separately. A positive control proves the witness:
the same payload inserted as HTML into the page does run.

Real servers: the operator app (review, approvals, dashboard) on uvicorn, the real Redis and
broker behind the dashboard and the approval queue."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest

from engagement.app import create_app
from engagement.server import BackgroundServer
from outreach.held import HeldDrafts, HeldItem
from outreach.settings import VariantSpec
from outreach.stack import free_port
from outreach.store import sync_client
from streams.abtest import state_key
from tests.support.browser import chromium, expect, needs_chromium
from tests.support.operator_app import operator_app, sign_in
from training import leads, teacher_offline
from training.brief import load_brief

pytestmark = [pytest.mark.integration, needs_chromium]
TOKEN = "xss-test-token-0123456789"
PAYLOADS = ["<img src=x onerror=\"window.__xss='{f}';document.title='pwned'\">",
            "<script>window.__xss='{f}';document.title='pwned'</script>",
            "\"><svg onload=\"window.__xss='{f}'\">", "javascript:window.__xss='{f}'"]


def hostile(field: str) -> str:
    return " ".join(p.format(f=field) for p in PAYLOADS)


def with_hostile_settings(settings):
    llm = settings.llm.model_copy(update={"base_url": "http://127.0.0.1:9/v1",
                                          "model": hostile("llm.model"),
                                          "label": hostile("llm.label")})
    arm = hostile("abtest.champion")  # shown as the champion while no A/B state is stored
    abtest = settings.abtest.model_copy(update={"champion": arm,
                                                "variants": [VariantSpec(name=arm)]})
    return settings.model_copy(update={"llm": llm, "abtest": abtest})


def probe(page) -> list:
    """[window.__xss, document.title] once the page has rendered its data and every request
    it made (an injected <img src=x> fetches x) has finished, so an onerror has fired."""
    page.wait_for_load_state("networkidle")
    return page.evaluate("[window.__xss ?? null, document.title]")


def held_item(campaign: str) -> HeldItem:
    lead = {"lead_id": f"lead-{campaign}", "campaign": hostile("lead.campaign"),
            "email": "x@example.com", "first_name": hostile("lead.first_name"),
            "company": hostile("lead.company"), "notes": hostile("lead.notes")}
    draft = {"draft_id": f"d-{campaign}", "campaign": hostile("draft.campaign"),
             "subject": hostile("draft.subject"), "body": hostile("draft.body"),
             "model_id": hostile("draft.model_id"), "variant": hostile("draft.variant"),
             "estimated_cost_usd": 0.001}
    return HeldItem(draft=draft, lead=lead, rung=hostile("rung"),
                    reasons=[hostile("reasons")])


def test_no_payload_runs_on_any_page(settings, tmp_path):
    settings = with_hostile_settings(settings)
    brief = load_brief(Path(__file__).parents[2] / "training" / "briefs" / "default.yaml")
    examples = teacher_offline.teach(leads.generated(2, 4, brief.campaign_id), brief)
    for ex in examples:
        ex.teacher, ex.subject, ex.body = (hostile("teacher"), hostile("example.subject"),
                                           hostile("example.body"))
        ex.lead = {**ex.lead, "company": hostile("example.lead")}
        ex.rubric = {**ex.rubric, "flags": [hostile("rubric.flag")]}
    HeldDrafts(sync_client(settings.redis_url), settings.redis.key_prefix, 3600).hold(
        held_item(uuid.uuid4().hex[:8]))
    results, csp = {}, {}
    with operator_app(settings, tmp_path / "review.sqlite", TOKEN, examples=examples) as (
            url, _), chromium() as browser:
        page = browser.new_context(bypass_csp=True).new_page()
        reply = page.goto(f"{url}/login?next=" + hostile("login.next").replace("#", "%23"))
        results["login"], csp["login"] = probe(page), reply.headers
        page.fill("input[name=token]", TOKEN)  # the form, as a person signs in
        with page.expect_navigation() as signed_in:
            page.click("button")
        reply, landed = signed_in.value, page.url  # the hostile next= was dropped
        expect(page.locator("#ex-id")).to_have_text(re.compile("^ex-"))
        results["review"], csp["review"] = probe(page), reply.headers
        teachers = page.inner_text("#f-teacher")
        reply = page.goto(f"{url}/drafts/")
        expect(page.locator("#d-id")).to_have_text(re.compile("^d-"))
        results["drafts"], csp["drafts"] = probe(page), reply.headers
        shown = page.inner_text("#lead") + page.inner_text("#list")
        reply = page.goto(f"{url}/dashboard/", timeout=60_000)
        page.wait_for_selector("#llm-endpoint")
        results["dashboard"], csp["dashboard"] = probe(page), reply.headers
        endpoint = page.inner_text("#llm-endpoint") + page.inner_text("#champion")
        # The positive control: the same payload as HTML does run in this browser.
        page.goto(f"{url}/login")
        page.evaluate("p => document.body.insertAdjacentHTML('beforeend', p)",
                      hostile("control"))
        page.wait_for_function("window.__xss === 'control'")
    assert results["login"][0] is None and "pwned" not in results["login"][1]
    assert landed == f"{url}/"  # signed in by the form: the review page
    assert results["review"] == [None, "Review queue - Miniature Outreach"]
    assert results["drafts"] == [None, "Drafts awaiting approval - Miniature Outreach"]
    assert results["dashboard"] == [None, "Miniature Outreach - KPIs and A/B state"]
    # Shown as text, not run: the teacher filter list (the old stored XSS), the held draft's
    # lead and queue entry, the model and A/B arm from the settings on the dashboard.
    assert "onerror" in teachers and "teacher" in teachers
    assert "onerror" in shown and "<script>" in endpoint and "abtest.champion" in endpoint
    for page_name, headers in csp.items():  # and the second line of defence on every page
        policy = headers.get("content-security-policy", "")
        assert "script-src 'nonce-" in policy and "unsafe-inline' " not in policy.split(
            "script-src")[1].split(";")[0], (page_name, policy)
        assert headers.get("x-frame-options") == "DENY", page_name
        assert headers.get("x-content-type-options") == "nosniff", page_name


# Without quotes: an exception message quotes a value with repr(), which escapes quotes (a
# quoted handler would then be broken JavaScript and prove nothing); backticks pass through.
QUOTELESS = ["<img src=x onerror=window.__xss=`{f}`>", "<script>window.__xss=`{f}`</script>",
             "<svg onload=window.__xss=`{f}`>"]


def test_exception_text_on_error_pages_runs_no_script(settings):
    """Issue 23: exception text was rendered unescaped on the dashboard. The error here is a
    real one: the stored A/B state (a Redis key other processes write) names a field that is
    markup, so reading it fails and the dashboard and campaign pages answer 503 quoting the
    reason. It must show as text, run nothing, and stay out of the JSON answer."""
    payload = " ".join(p.format(f="ab.state") for p in QUOTELESS)
    sync_client(settings.redis_url).set(state_key(settings.redis.key_prefix),
                                        json.dumps({payload: 1}))
    app = create_app(settings, {"op": TOKEN})  # the operator dashboard alone
    answers, ran, shown = {}, {}, {}
    with BackgroundServer(settings, free_port(), app=app) as url, chromium() as browser:
        page = browser.new_context(bypass_csp=True).new_page()
        sign_in(page, url, TOKEN)
        for path in ("/", "/campaigns/c-hostile"):
            answers[path] = page.goto(url + path, timeout=60_000).status
            ran[path], shown[path] = probe(page), page.inner_text("body")
        api = page.evaluate("fetch('/api/snapshot').then(async r => [r.status, await r.text()])")
        # The positive control: the payload as HTML does run in this browser.
        page.evaluate("p => document.body.insertAdjacentHTML('beforeend', p)", payload)
        page.wait_for_function("window.__xss === 'ab.state'")
    assert answers == {"/": 503, "/campaigns/c-hostile": 503}, answers
    for path in answers:
        assert ran[path][0] is None and "pwned" not in ran[path][1], (path, ran[path])
        # Shown as text: the reason is on the page, markup and all.
        assert "A/B state unreadable" in shown[path] and "onerror=window.__xss" in shown[path]
    assert api[0] == 503 and "onerror" not in api[1] and "see the server log" in api[1]
