"""Signed per-draft unsubscribe tokens (RFC 8058 one-click links), with key ids and expiry.

A token is ``<draft_id b64url>.<kid>.<expiry, unix seconds base36>.<MAC b64url, 16 bytes>``
where MAC = HMAC-SHA256(secret, draft_id, kid, expiry). It names only the draft (no address in
the URL, which mail logs and forwards would spread); the feedback join finds the address on
the draft. 128 bits of MAC cannot be guessed, so a stranger cannot unsubscribe someone else
by editing a link.

Rotation: ``secrets`` is one secret or several (newest first, or a mapping kid -> secret). New
tokens are signed with the first; a token is checked with the secret its kid names, so old
links keep working while their secret is still listed. A kid derived from a bare secret is a
short hash of it (not the secret), so listing secrets needs no names.

Expiry: ``DEFAULT_TTL_S`` (180 days) from signing; regulations want an unsubscribe link to
work for at least 30 days (CAN-SPAM) and we promise at least 60.

Old tokens (``<draft_id>.<MAC>``, no kid, no expiry) carry no date, so the policy for them is
the secret: they are accepted while the secret that signed them is configured (any listed
secret), and stop working when it is removed. Retire a secret no sooner than DEFAULT_TTL_S
after new tokens went out (the mail of the last 180 days still carries the old links).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping, Sequence

from outreach.settings.mail import SenderSettings

MAC_BYTES = 16
DEFAULT_TTL_S = 180 * 86400
MIN_TTL_S = 60 * 86400
MAX_TOKEN_CHARS = 600
Secrets = str | Sequence[str] | Mapping[str, str]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sender_secrets(sender: SenderSettings) -> list[str]:
    """The unsubscribe secrets a sender section configures, the signing one first:
    ``unsubscribe_secrets`` (newest first) then ``unsubscribe_secret``. The sender signs with
    the first and the public app accepts them all, so both sides read the list here and cannot
    disagree on the order."""
    values = [*sender.unsubscribe_secrets, sender.unsubscribe_secret]
    texts = [v.get_secret_value() for v in values if v is not None]
    return list(dict.fromkeys(t for t in texts if t))


def key_id(secret: str) -> str:
    """A short public name of a secret (4 chars of a hash: names it, reveals nothing)."""
    return _b64(hashlib.sha256(b"unsubscribe-kid\x1f" + secret.encode()).digest()[:3])


def keyring(secrets: Secrets) -> dict[str, str]:
    """kid -> secret, the signing key first."""
    if isinstance(secrets, str):
        return {key_id(secrets): secrets}
    if isinstance(secrets, Mapping):
        return dict(secrets)
    return {key_id(s): s for s in secrets}


def _mac_v1(secret: str, draft_id: str) -> bytes:
    return hmac.new(secret.encode(), b"unsubscribe\x1f" + draft_id.encode(),
                    hashlib.sha256).digest()[:MAC_BYTES]


def _mac(secret: str, draft_id: str, kid: str, expiry: str) -> bytes:
    message = "\x1f".join(("unsubscribe-v2", draft_id, kid, expiry)).encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()[:MAC_BYTES]


def make_token(secrets: Secrets, draft_id: str, now: float | None = None,
               ttl_s: int = DEFAULT_TTL_S) -> str:
    if ttl_s < MIN_TTL_S:
        raise ValueError(f"unsubscribe links must work for at least {MIN_TTL_S // 86400} days")
    kid, secret = next(iter(keyring(secrets).items()))
    expiry = _base36(int((time.time() if now is None else now) + ttl_s))
    return f"{_b64(draft_id.encode())}.{kid}.{expiry}.{_b64(_mac(secret, draft_id, kid, expiry))}"


def read_token(secrets: Secrets, token: str, now: float | None = None) -> str | None:
    """The draft_id ``token`` was made for, or None when it is malformed, forged, signed by a
    secret no longer listed, or expired."""
    if len(token) > MAX_TOKEN_CHARS:
        return None
    parts = token.split(".")
    keys = keyring(secrets)
    try:
        draft_id = _unb64(parts[0]).decode("utf-8")
        if len(parts) == 2:  # old token: no kid, no expiry (see the module docstring)
            mac = _unb64(parts[1])
            ok = any(hmac.compare_digest(mac, _mac_v1(s, draft_id)) for s in keys.values())
            return draft_id if ok else None
        if len(parts) != 4 or parts[1] not in keys:
            return None
        _, kid, expiry, tail = parts
        mac, expires_at = _unb64(tail), int(expiry, 36)
    except (ValueError, UnicodeDecodeError):  # binascii.Error is a ValueError
        return None
    if not hmac.compare_digest(mac, _mac(keys[kid], draft_id, kid, expiry)):
        return None
    return draft_id if expires_at >= (time.time() if now is None else now) else None


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out
