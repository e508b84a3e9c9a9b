"""Signed per-draft unsubscribe tokens (RFC 8058 one-click links).

A token is ``<draft_id base64url>.<HMAC-SHA256(secret, draft_id) base64url, 16 bytes>``: it
names only the draft (no address in the URL, which mail logs and forwards would spread), and
the feedback join finds the address on the draft. 128 bits of MAC cannot be guessed, so a
stranger cannot unsubscribe someone else by editing a link.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

MAC_BYTES = 16


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, draft_id: str) -> bytes:
    return hmac.new(secret.encode(), b"unsubscribe\x1f" + draft_id.encode(),
                    hashlib.sha256).digest()[:MAC_BYTES]


def make_token(secret: str, draft_id: str) -> str:
    return f"{_b64(draft_id.encode())}.{_b64(_mac(secret, draft_id))}"


def read_token(secret: str, token: str) -> str | None:
    """The draft_id ``token`` was made for, or None when it is malformed or forged."""
    head, dot, tail = token.partition(".")
    if not dot or len(token) > 600:
        return None
    try:
        draft_id = _unb64(head).decode("utf-8")
        mac = _unb64(tail)
    except (ValueError, UnicodeDecodeError):  # binascii.Error is a ValueError
        return None
    return draft_id if hmac.compare_digest(mac, _mac(secret, draft_id)) else None
