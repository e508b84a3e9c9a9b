"""Unsubscribe tokens: key ids for rotation, an expiry of at least 60 days, old tokens
(no kid) accepted while their secret is configured."""

import base64
import hashlib
import hmac
import time

import pytest

from outreach.unsubscribe_token import DEFAULT_TTL_S, make_token, read_token

OLD, NEW = "old-secret-for-tests", "new-secret-for-tests"
NOW = 1_800_000_000


def legacy_token(secret: str, draft_id: str) -> str:
    """The format before key ids (what mail already sent carries)."""
    b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()  # noqa: E731
    mac = hmac.new(secret.encode(), b"unsubscribe\x1f" + draft_id.encode(),
                   hashlib.sha256).digest()[:16]
    return f"{b64(draft_id.encode())}.{b64(mac)}"


def test_tokens_expire_no_sooner_than_60_days():
    token = make_token(NEW, "d-1", now=NOW)
    assert DEFAULT_TTL_S >= 60 * 86400
    assert read_token(NEW, token, now=NOW + 60 * 86400) == "d-1"
    assert read_token(NEW, token, now=NOW + DEFAULT_TTL_S + 1) is None
    with pytest.raises(ValueError):
        make_token(NEW, "d-1", now=NOW, ttl_s=86400)


def test_rotation_by_key_id_and_old_tokens():
    before = make_token(OLD, "d-2", now=NOW)
    after = make_token([NEW, OLD], "d-3", now=NOW)
    legacy = legacy_token(OLD, "d-4")
    assert before.split(".")[1] != after.split(".")[1]  # different key ids
    assert read_token([NEW, OLD], before, now=NOW) == "d-2"  # the old key still listed
    assert read_token([NEW, OLD], after, now=NOW) == "d-3"
    assert read_token([NEW, OLD], legacy, now=NOW) == "d-4"
    assert read_token([NEW], before, now=NOW) is None  # retired with its secret
    assert read_token([NEW], legacy, now=NOW) is None
    assert read_token(NEW, after, now=NOW) == "d-3"


def test_forged_and_edited_tokens_are_refused():
    token = make_token(NEW, "d-5", now=NOW)
    head, kid, expiry, mac = token.split(".")
    later = str(int(expiry, 36) * 2)
    assert read_token(NEW, ".".join((head, kid, later, mac)), now=NOW) is None
    other = base64.urlsafe_b64encode(b"d-6").rstrip(b"=").decode()
    assert read_token(NEW, ".".join((other, kid, expiry, mac)), now=NOW) is None
    assert read_token("guessed", token, now=NOW) is None
    assert read_token(NEW, "x" * 700, now=NOW) is None and read_token(NEW, "", now=NOW) is None


def test_a_sent_link_carries_a_key_id_and_works_for_60_days():
    """The link the sender writes (mail/unsubscribe.py) is the new format, read back with the
    same secrets the public app reads (sender_secrets)."""
    from pydantic import SecretStr

    from mail.unsubscribe import unsubscribe_link
    from outreach.settings import SenderSettings
    from outreach.unsubscribe_token import key_id, sender_secrets

    cfg = SenderSettings(unsubscribe_base_url="https://u.example/unsubscribe",
                         unsubscribe_secret=SecretStr(NEW))
    token = unsubscribe_link(cfg, "d-7").rsplit("/", 1)[1]
    assert token.split(".")[1] == key_id(NEW) and NEW not in token
    assert read_token(sender_secrets(cfg), token) == "d-7"
    assert int(token.split(".")[2], 36) >= time.time() + 60 * 86400


def test_settings_rotation_signs_with_the_newest_and_accepts_the_old():
    """sender.unsubscribe_secrets lists keys newest first: the sender signs with the first, and
    a link mailed under the old key (unsubscribe_secret) keeps working."""
    from pydantic import SecretStr

    from mail.unsubscribe import unsubscribe_link
    from outreach.settings import SenderSettings
    from outreach.unsubscribe_token import key_id, sender_secrets

    before = SenderSettings(unsubscribe_base_url="https://u.example/unsubscribe",
                            unsubscribe_secret=SecretStr(OLD))
    old_link = unsubscribe_link(before, "d-8").rsplit("/", 1)[1]
    after = before.model_copy(update={"unsubscribe_secrets": [SecretStr(NEW)]})
    assert sender_secrets(after) == [NEW, OLD]
    new_link = unsubscribe_link(after, "d-9").rsplit("/", 1)[1]
    assert new_link.split(".")[1] == key_id(NEW) and old_link.split(".")[1] == key_id(OLD)
    assert read_token(sender_secrets(after), old_link) == "d-8"
    assert read_token(sender_secrets(after), new_link) == "d-9"
    assert read_token(sender_secrets(before), new_link) is None
