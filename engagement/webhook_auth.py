"""Who may post engagement events: signature, token, content type and size, checked before the
body is trusted (or, for size, read).

Signature (ESP style, like Stripe's and Svix's): the sender computes
``HMAC-SHA256(secret, f"{t}.{body}")`` and sends ``X-Outreach-Signature: t=<unix seconds>,
v1=<hex>``. The timestamp must be within ``dashboard.webhook_tolerance_s`` of now, and a
signature is accepted once (Redis SET NX for the tolerance window), so a captured request
replayed later, or again within the window, is refused. Every comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass

from fastapi import Request

from outreach.endpoints import is_loopback
from outreach.errors import ConfigError
from outreach.settings import Settings

SIGNATURE_HEADER = "x-outreach-signature"
TOKEN_HEADER = "x-outreach-token"


@dataclass(frozen=True)
class Refusal:
    status: int
    reason: str


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The X-Outreach-Signature value for ``body`` (what an ESP, or a test, sends)."""
    stamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"


def check_headers(request: Request, settings: Settings, max_bytes: int) -> Refusal | None:
    """What can be refused before reading the body: token, content type, declared size."""
    token = settings.dashboard.webhook_token
    if token and not hmac.compare_digest(request.headers.get(TOKEN_HEADER, "").encode(),
                                         token.get_secret_value().encode()):
        return Refusal(401, "missing or wrong X-Outreach-Token")
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    # A browser can post text/plain or a form cross-site without a preflight; JSON it cannot.
    if kind != "application/json" and not kind.endswith("+json"):
        return Refusal(415, "Content-Type must be application/json")
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > max_bytes:
                return Refusal(413, f"body over {max_bytes} bytes")
        except ValueError:
            return Refusal(400, "bad Content-Length")
    return None


async def read_capped(request: Request, max_bytes: int) -> bytes | Refusal:
    """The body, read in chunks and abandoned past ``max_bytes`` (chunked uploads declare no
    length, so the declared size alone does not bound memory)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            return Refusal(413, f"body over {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def check_signature(headers: dict[str, str] | object, body: bytes, settings: Settings,
                    now: float | None = None) -> tuple[Refusal | None, str | None]:
    """(refusal, signature): the refusal when the signature is missing, stale or wrong; the
    signature to remember (replay) when it is good; (None, None) when no secret is set."""
    secret = settings.dashboard.webhook_secret
    if not secret:
        return None, None
    value = headers.get(SIGNATURE_HEADER, "")  # type: ignore[union-attr]
    parts = dict(item.split("=", 1) for item in value.split(",") if "=" in item)
    try:
        stamp = int(parts.get("t", ""))
    except ValueError:
        return Refusal(401, "missing or malformed X-Outreach-Signature"), None
    now = time.time() if now is None else now
    if abs(now - stamp) > settings.dashboard.webhook_tolerance_s:
        return Refusal(401, "signature timestamp outside the tolerance (replayed or clock "
                            "skew)"), None
    expected = hmac.new(secret.get_secret_value().encode(), f"{stamp}.".encode() + body,
                        hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), parts.get("v1", "").encode()):
        return Refusal(401, "signature does not match the body"), None
    return None, expected


def replay_key(settings: Settings, signature: str) -> str:
    return f"{settings.redis.key_prefix}:webhook-sig:{signature}"


def check_bind(settings: Settings, host: str) -> None:
    """Refuse to serve the webhook beyond loopback without a way to authenticate posts."""
    if not is_loopback(host) and not settings.dashboard.webhook_secret:
        raise ConfigError(f"refusing to serve the engagement webhook on {host}: anyone who can "
                          "reach it could suppress addresses and forge replies. Set "
                          "dashboard.webhook_secret (OUTREACH_DASHBOARD__WEBHOOK_SECRET) or "
                          "bind to 127.0.0.1")
