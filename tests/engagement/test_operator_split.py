"""The public app answers only what recipients and the ESP need; the operator app answers
nothing without a login, records who is logged in, and refuses cross-site writes. Real
uvicorn servers, the real broker and Redis."""

import re

import httpx
import pytest

from engagement.app import create_app
from engagement.server import BackgroundServer
from outreach.stack import free_port
from outreach.web_auth import Operators, announce

pytestmark = pytest.mark.integration
TOKENS = {"alice": "alice-token-0123456789", "bob": "bob-token-0123456789xx"}


def test_public_app_serves_no_operator_pages_and_checks_host(settings):
    with BackgroundServer(settings, free_port()) as url, httpx.Client(base_url=url) as http:
        hidden = {p: http.get(p).status_code
                  for p in ("/", "/api/snapshot", "/metrics", "/docs", "/openapi.json")}
        health = http.get("/healthz")
        rebound = http.post("/webhooks/engagement", json={"event": "open"},
                            headers={"host": "attacker.example"})
    assert hidden == {p: 404 for p in hidden}, hidden
    assert health.status_code == 200
    assert health.headers["x-frame-options"] == "DENY"
    assert health.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in health.headers["content-security-policy"]
    assert rebound.status_code == 400  # TrustedHost: a DNS-rebinding page names its own host


def test_operator_dashboard_needs_a_login_per_person(settings):
    app = create_app(settings, TOKENS)
    with BackgroundServer(settings, free_port(), app=app) as url, \
            httpx.Client(base_url=url) as http:
        anonymous = {p: http.get(p, follow_redirects=False).status_code
                     for p in ("/", "/api/snapshot", "/metrics", "/healthz", "/docs",
                               "/openapi.json")}
        login_page = http.get("/login")
        wrong = http.post("/login", data={"token": "nope-nope-nope", "next": "/"})
        bearer = http.get("/metrics", headers={"authorization": f"Bearer {TOKENS['bob']}"})
        signed_in = http.post("/login", data={"token": TOKENS["alice"], "next": "/api/snapshot"},
                              follow_redirects=False)
        cookie = signed_in.headers["set-cookie"]
        snapshot = http.get("/api/snapshot", timeout=60)
        who = http.get("/login")
        cross = httpx.post(url + "/login", data={"token": TOKENS["alice"]},
                           headers={"origin": "https://evil.example"})
        behind_tls = httpx.post(url + "/login", data={"token": TOKENS["bob"]},
                                headers={"x-forwarded-proto": "https"})
        # A same-origin form post may say "Origin: null" (Chromium does under a no-referrer
        # policy); the browser's Sec-Fetch-Site decides.
        null_origin = httpx.post(url + "/login", data={"token": TOKENS["bob"]},
                                 headers={"origin": "null", "sec-fetch-site": "same-origin"})
        cross_site = httpx.post(url + "/login", data={"token": TOKENS["bob"]},
                                headers={"origin": "null", "sec-fetch-site": "cross-site"})
    assert anonymous["/"] == 303 and anonymous["/healthz"] == 303
    assert anonymous["/api/snapshot"] == 401 and anonymous["/metrics"] == 401
    assert anonymous["/docs"] in (303, 404) and anonymous["/openapi.json"] in (303, 404)
    assert login_page.status_code == 200 and 'name="token"' in login_page.text
    assert wrong.status_code == 401
    assert bearer.status_code == 200 and "outreach_approval_drafts" in bearer.text
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/api/snapshot"
    assert TOKENS["alice"] not in cookie  # a signed session value, never the token
    assert re.search(r"(?i)httponly", cookie) and re.search(r"(?i)samesite=strict", cookie)
    assert re.search(r"(?i)max-age=\d+", cookie)
    assert snapshot.status_code == 200 and "kpis" in snapshot.json()
    assert 'id="operator">alice<' in who.text
    assert cross.status_code == 403 and cross_site.status_code == 403
    assert null_origin.status_code == 303, null_origin.text
    # Behind a TLS proxy the cookie is Secure (never sent over plain http).
    assert re.search(r"(?i);\s*secure", behind_tls.headers["set-cookie"])
    assert not re.search(r"(?i);\s*secure", cookie)  # plain http on loopback: it must work


def test_a_login_link_never_reaches_a_log(capsys):
    """stderr captured (a file, as under systemd or docker): no token in it, only where to
    sign in; the old review command printed the token URL wherever stderr went."""
    announce("http://127.0.0.1:8089/drafts/?token=secret-token-0123456789")
    err = capsys.readouterr().err
    assert "secret-token" not in err and "http://127.0.0.1:8089/login" in err


def test_sessions_expire_and_cannot_be_forged():
    ops = Operators(TOKENS, session_ttl_s=60)
    value = ops.issue("alice", now=1000)
    assert ops.session(value, now=1030) == "alice"
    assert ops.session(value, now=1061) is None  # expired
    head, _, mac = value.rpartition(".")
    forged = ops.issue("bob", now=1000).rsplit(".", 1)[0] + "." + mac
    assert ops.session(forged, now=1030) is None
    assert Operators(TOKENS).session(value, now=1030) is None  # another process's key
    assert ops.who(TOKENS["bob"]) == "bob" and ops.who("bob-token") is None
