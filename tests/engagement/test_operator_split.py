"""The public app answers only what recipients and the ESP need; the operator app answers
nothing without a login, records who is logged in, and refuses cross-site writes. Real
uvicorn servers, the real broker and Redis."""

import inspect
import json
import re
import tomllib
import uuid
from pathlib import Path

import fastapi
import httpx
import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from apps.chaos import chaos_draft
from engagement.app import create_app
from engagement.server import BackgroundServer
from outreach.held import HeldDrafts, HeldItem
from outreach.stack import free_port
from outreach.store import sync_client
from outreach.web_auth import Operators, announce
from tests.support.operator_app import operator_app

pytestmark = pytest.mark.integration
TOKENS = {"alice": "alice-token-0123456789", "bob": "bob-token-0123456789xx"}
ROOT = Path(__file__).resolve().parents[2]
# FastAPI 0.132 added strict_content_type (on by default): a body that names no content type
# is no longer parsed as JSON. Before it, a page on another loopback port (same site, so the
# SameSite=Strict cookie goes along) could post JSON without a CORS preflight and edit a held
# draft. The apps do not rest on it (outreach/web_auth.py refuses such a request itself), but
# pyproject's floor must not promise a version without it.
FASTAPI_FLOOR = Version("0.132")


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


def fastapi_floors() -> list[Version]:
    """The lowest version each fastapi requirement in pyproject.toml allows (a requirement
    without a lower bound counts as 0)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = [*project["dependencies"], *(r for group in project["optional-dependencies"].values()
                                         for r in group)]
    found = [Requirement(line) for line in lines if Requirement(line).name == "fastapi"]
    return [max((Version(s.version) for s in r.specifier if s.operator in (">=", "==", "~=")),
                default=Version("0")) for r in found]


class UntypedBodiesAsJson:
    """ASGI middleware that labels a request body naming no content type application/json:
    the app then parses such bodies as FastAPI < 0.132 did, so the CSRF check can be tried
    where the framework would not refuse anything."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and not any(k == b"content-type" for k, _ in scope["headers"]):
            scope = dict(scope, headers=[*scope["headers"], (b"content-type", b"application/json")])
        await self.app(scope, receive, send)


def _hold(settings) -> tuple[HeldDrafts, str]:
    held = HeldDrafts(sync_client(settings.redis_url), settings.redis.key_prefix, 3600)
    draft = dict(chaos_draft(0, "c-csrf"), draft_id=f"d-csrf-{uuid.uuid4().hex[:8]}")
    held.hold(HeldItem(draft=draft, lead={"lead_id": draft["lead_id"]}, rung="miniature",
                       reasons=["held: test"]))
    return held, draft["draft_id"]


def test_the_fastapi_floor_is_stated_and_csrf_does_not_rest_on_it(settings, tmp_path):
    floors = fastapi_floors()
    assert floors and all(f >= FASTAPI_FLOOR for f in floors), floors
    assert Version(fastapi.__version__) >= FASTAPI_FLOOR
    assert inspect.signature(fastapi.FastAPI).parameters["strict_content_type"].default is True

    # The demonstrated edit: JSON with no content type from another loopback port, carrying a
    # payment link, sent with the operator's session cookie.
    edit = json.dumps({"status": "edited", "subject": "Your invoice",
                       "body": "Hi,\n\nPay here: https://pay.evil.example/x\n\nBest"}).encode()
    other_port = {"origin": "http://127.0.0.1:1", "sec-fetch-site": "same-site"}
    held, target = _hold(settings)
    _, control = _hold(settings)
    with operator_app(settings, tmp_path / "old.sqlite", TOKENS, wrap=UntypedBodiesAsJson) as (
            url, _), httpx.Client(base_url=url) as http:
        http.post("/login", data={"token": TOKENS["alice"], "next": "/"})
        path = f"/drafts/api/held/{target}"
        untyped = http.post(path, content=edit, headers=other_port)
        origin_only = http.post(path, content=edit, headers={"origin": "http://127.0.0.1:1"})
        form = http.post(path, data={"status": "approved"},
                         headers={"origin": "null", "sec-fetch-site": "cross-site"})
        # Same origin but without the custom header (what a form or a no-cors fetch sends).
        no_header = http.post(path, content=edit, headers={"sec-fetch-site": "same-origin"})
        # The control: the same untyped body from the page itself is parsed and recorded, so
        # the framework here refuses nothing and the refusals above are the app's own.
        accepted = http.post(f"/drafts/api/held/{control}", content=edit,
                             headers={"sec-fetch-site": "same-origin", "x-outreach-csrf": "1"})
    refusals = {name: (r.status_code, r.json().get("detail")) for name, r in (
        ("untyped", untyped), ("origin only", origin_only), ("form", form),
        ("no header", no_header))}
    assert refusals == {"untyped": (403, "cross-site request refused"),
                        "origin only": (403, "cross-site request refused"),
                        "form": (403, "cross-site request refused"),
                        "no header": (403, "missing x-outreach-csrf header")}, refusals
    assert held.get(target).status == "pending"
    assert accepted.status_code == 200, accepted.text
    assert held.get(control).status == "edited"
    assert held.get(control).reviewer == "alice"

    # And the installed FastAPI, as the floor promises, refuses the untyped body by itself.
    _, strict_target = _hold(settings)
    with operator_app(settings, tmp_path / "now.sqlite", TOKENS) as (url, _), \
            httpx.Client(base_url=url) as http:
        http.post("/login", data={"token": TOKENS["alice"], "next": "/"})
        strict = http.post(f"/drafts/api/held/{strict_target}", content=edit,
                           headers={"sec-fetch-site": "same-origin", "x-outreach-csrf": "1"})
    assert strict.status_code == 422, strict.text
    assert held.get(strict_target).status == "pending"
