"""Login for the operator pages (dashboard, metrics, approvals, review) and the headers every
page of the project sends.

Per person: ``Operators`` maps a name to a token, so a decision records who made it (the name
comes from the login, never from the request body). A browser logs in once (the /login form,
or a printed ``?token=`` link) and gets a session cookie: ``<name>.<expiry>.<HMAC>`` signed with
a key made at process start (a restart logs everyone out; no token is ever stored in the
cookie), HttpOnly, SameSite=Strict, Secure when served over https, expiring after
``session_ttl_s``. Scripts and Prometheus send ``Authorization: Bearer <token>`` instead.

CSRF does not rest on SameSite or on FastAPI refusing form bodies: a state-changing request
authorized by the cookie must carry ``X-Outreach-CSRF: 1`` (a custom header a cross-site page
cannot send without a CORS preflight, which these apps never grant), and a browser's
Sec-Fetch-Site / Origin, when present, must say same origin.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import re
import secrets
import sys
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.middleware.trustedhost import TrustedHostMiddleware

from outreach.errors import ConfigError

SESSION_COOKIE = "outreach_session"
CSRF_HEADER = "x-outreach-csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1", "[::1]")
MIN_TOKEN_CHARS = 12
MAX_LOGIN_BYTES = 4096


def secret_text(value: Any) -> str | None:
    """A plain str from a setting that is a str or a pydantic SecretStr (or unset)."""
    if value is None:
        return None
    getter = getattr(value, "get_secret_value", None)
    return getter() if getter else str(value)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Operators:
    """The people who may use the operator pages: name -> token, and their sessions."""

    def __init__(self, tokens: Mapping[str, Any], session_ttl_s: int = 12 * 3600) -> None:
        self.tokens: dict[str, str] = {}
        for name, token in tokens.items():
            text = secret_text(token) or ""
            if not NAME.fullmatch(name):
                raise ConfigError(f"operator name {name!r}: letters, digits, _.@- only")
            if len(text) < MIN_TOKEN_CHARS:
                raise ConfigError(f"operator {name}: token shorter than {MIN_TOKEN_CHARS} chars")
            self.tokens[name] = text
        if not self.tokens:
            raise ConfigError("no operator tokens: nobody could log in")
        self.session_ttl_s = session_ttl_s
        self._key = secrets.token_bytes(32)  # per process: sessions end with the process

    @classmethod
    def coerce(cls, value: str | Mapping[str, Any] | Operators,
               name: str = "reviewer") -> Operators:
        """An ``Operators`` from one shared token (recorded as ``name``), a mapping, or itself."""
        if isinstance(value, Operators):
            return value
        if isinstance(value, Mapping):
            return cls(value)
        return cls({name: value})

    def who(self, token: str) -> str | None:
        """The operator whose token this is; every token is compared (constant time each)."""
        found = None
        for name, known in self.tokens.items():
            if hmac.compare_digest(token.encode(), known.encode()):
                found = name
        return found

    def _mac(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode(), hashlib.sha256).digest()[:24])

    def issue(self, name: str, now: float | None = None) -> str:
        expiry = int((time.time() if now is None else now) + self.session_ttl_s)
        payload = f"{_b64(name.encode())}.{expiry}"
        return f"{payload}.{self._mac(payload)}"

    def session(self, value: str, now: float | None = None) -> str | None:
        """The operator a session cookie names, or None when forged, expired or malformed."""
        head, _, mac = value.rpartition(".")
        name_part, _, expiry = head.partition(".")
        if not (mac and expiry.isdigit()) or len(value) > 300:
            return None
        if not hmac.compare_digest(mac.encode(), self._mac(head).encode()):
            return None
        if int(expiry) < (time.time() if now is None else now):
            return None
        try:
            name = _unb64(name_part).decode()
        except (ValueError, UnicodeDecodeError):
            return None
        return name if name in self.tokens else None


def new_token() -> str:
    return secrets.token_urlsafe(24)


def announce(url: str) -> None:
    """Show a login link once, on the terminal the operator started: never through logging
    (log files and collectors keep it), and not into a redirected stderr."""
    if sys.stderr.isatty():
        print(f"sign in once: {url}", file=sys.stderr, flush=True)
    else:
        parts = urlsplit(url)
        print(f"sign in at {parts.scheme}://{parts.netloc}/login with an operator token (a "
              "login link is never printed when stderr is not a terminal: set "
              "training.review.token or dashboard operators)", file=sys.stderr, flush=True)


# ---- headers every page sends ------------------------------------------------------------

def csp(nonce: str) -> str:
    return (f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; "
            "img-src 'self' data:; connect-src 'self'; form-action 'self'; "
            "frame-ancestors 'none'; base-uri 'none'")


def with_nonce(page: str, request: Request) -> str:
    """The page with its inline scripts allowed by this response's CSP nonce (nothing else
    runs: an injected <script> has no nonce)."""
    nonce = getattr(request.state, "csp_nonce", "")
    return page.replace("<script>", f'<script nonce="{nonce}">')


def add_security_headers(app: FastAPI, hosts: list[str] | None) -> None:
    """CSP (scripts only with the response's nonce), no framing, no sniffing, no referrer to
    other sites; and TrustedHost when ``hosts`` is given (a DNS-rebinding page names its own host, refused)."""

    @app.middleware("http")
    async def headers(request: Request, call_next: Any) -> Response:
        nonce = secrets.token_urlsafe(16)
        request.state.csp_nonce = nonce
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", csp(nonce))
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        # same-origin: nothing leaves for other sites, and same-origin form posts keep their
        # Origin (no-referrer makes Chromium send "Origin: null" on them).
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    if hosts:  # added last = outermost: a wrong Host is refused before anything else runs
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=hosts)


def allowed_hosts(bind_host: str, names: list[str] | None = None) -> list[str]:
    """The Host headers a server answers: loopback names when bound to loopback, plus the bind
    address and ``names`` (public host names, e.g. of the unsubscribe URL); "*" only when bound
    to every interface with no name known (then a secret guards the webhook)."""
    hosts = list(LOOPBACK_NAMES)
    if bind_host not in ("0.0.0.0", "::", ""):
        hosts.append(bind_host)
    hosts += [n for n in (names or []) if n]
    if bind_host in ("0.0.0.0", "::", "") and not names:
        return ["*"]
    return list(dict.fromkeys(hosts))


# ---- login --------------------------------------------------------------------------------

def same_origin(request: Request) -> bool:
    """What the browser says about where a request comes from (absent headers = not a modern
    browser's cross-site request: curl, scripts).

    Sec-Fetch-Site decides when present: a page cannot set it, and a form POST may carry
    ``Origin: null`` from a same-origin page (a no-referrer policy does that), which an Origin
    check alone would refuse. Without it (older browsers), the Origin must name this host."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None:
        return True
    host = request.headers.get("host", "")
    return origin in (f"http://{host}", f"https://{host}")


def csrf_refusal(request: Request) -> str | None:
    if not same_origin(request):
        return "cross-site request refused"
    if request.headers.get(CSRF_HEADER) != "1":
        return f"missing {CSRF_HEADER} header"
    return None


def _secure(request: Request) -> bool:
    return request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"


def _login_response(operators: Operators, name: str, target: str, request: Request) -> Response:
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(SESSION_COOKIE, operators.issue(name), max_age=operators.session_ttl_s,
                        httponly=True, samesite="strict", secure=_secure(request), path="/")
    return response


def _safe_next(value: str | None) -> str:
    # Only a path on this host: "//evil.example" or "https://..." would be an open redirect.
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


LOGIN_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Sign in - Miniature Outreach</title><style>body{{font-family:system-ui,sans-serif;
max-width:30rem;margin:4rem auto;padding:0 1rem}}input{{width:100%;padding:.5rem}}
button{{margin-top:.6rem;padding:.5rem 1rem}}.flag{{color:#b91c1c}}</style></head><body>
<h1>Miniature Outreach operators</h1>{status}
<ul id="links">{links}</ul></body></html>"""


def login_page(request: Request, name: str | None, links: list[tuple[str, str]],
               error: str = "", status_code: int = 200) -> HTMLResponse:
    items = "".join(f'<li><a href="{html.escape(href)}">{html.escape(label)}</a></li>'
                    for href, label in links)
    if name:
        status = (f'<p>Signed in as <b id="operator">{html.escape(name)}</b>.</p>'
                  '<form method="post" action="/logout"><button>Sign out</button></form>')
    else:
        target = html.escape(_safe_next(request.query_params.get("next")))
        status = ((f'<p class="flag">{html.escape(error)}</p>' if error else "")
                  + '<form method="post" action="/login"><label>Your operator token '
                  '<input type="password" name="token" autocomplete="current-password" '
                  f'autofocus></label><input type="hidden" name="next" value="{target}">'
                  "<button>Sign in</button></form>")
    return HTMLResponse(LOGIN_PAGE.format(status=status, links=items), status_code=status_code)


def _is_api(path: str) -> bool:
    return "/api/" in path or path.endswith("/api") or path == "/metrics"


def require_login(app: FastAPI, operators: Operators, links: list[tuple[str, str]],
                  hosts: list[str] | None = None) -> None:
    """Every route of ``app`` needs an operator (cookie or Bearer), except /login itself; the
    operator's name is ``request.state.operator``. Adds /login, /logout and the headers."""

    def identify(request: Request) -> tuple[str | None, bool]:
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie:
            name = operators.session(cookie)
            if name:
                return name, True
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return operators.who(auth[7:].strip()), False
        return None, False

    @app.middleware("http")
    async def login_gate(request: Request, call_next: Any) -> Response:
        path = request.url.path
        if path in ("/login", "/logout"):
            return await call_next(request)
        query_token = request.query_params.get("token")
        if request.method == "GET" and query_token is not None:
            # A printed link: the token moves into a session cookie and leaves the URL.
            name = operators.who(query_token)
            if name is None:
                return JSONResponse({"detail": "invalid token"}, status_code=401)
            return _login_response(operators, name, path, request)
        name, by_cookie = identify(request)
        if name is None:
            if request.method == "GET" and not _is_api(path):
                return RedirectResponse(f"/login?next={quote(path)}", status_code=303)
            return JSONResponse({"detail": "login required: /login, or Authorization: Bearer"},
                                status_code=401)
        if by_cookie and request.method not in SAFE_METHODS:
            refusal = csrf_refusal(request)
            if refusal:
                return JSONResponse({"detail": refusal}, status_code=403)
        request.state.operator = name
        return await call_next(request)

    @app.get("/login", response_class=HTMLResponse)
    def login_form(request: Request) -> HTMLResponse:
        cookie = request.cookies.get(SESSION_COOKIE)
        return login_page(request, operators.session(cookie) if cookie else None, links)

    @app.post("/login", response_class=HTMLResponse)
    async def login(request: Request) -> Response:
        if not same_origin(request):  # login CSRF: a foreign page logging you in as someone
            return login_page(request, None, links, "cross-site sign-in refused", 403)
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_LOGIN_BYTES:
                return login_page(request, None, links, "request too large", 413)
        form = parse_qs(body.decode("utf-8", "replace"))
        name = operators.who((form.get("token") or [""])[0])
        if name is None:
            return login_page(request, None, links, "unknown token", 401)
        return _login_response(operators, name, _safe_next((form.get("next") or [""])[0]),
                               request)

    @app.post("/logout")
    def logout(request: Request) -> Response:
        response = RedirectResponse("/login", status_code=303)
        if same_origin(request):
            response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    add_security_headers(app, hosts)


def operator(request: Request) -> str:
    """The logged-in operator's name (set by ``require_login``)."""
    return request.state.operator
