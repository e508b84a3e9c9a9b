"""Drafts whose data would break a header or an ASCII-only relay: dead letters, never a crash.

Real sender, real aiosmtpd sink (it does not offer SMTPUTF8), real broker and Redis.
"""

from __future__ import annotations

import uuid
from email import message_from_bytes, policy

import pytest
from pydantic import SecretStr

from mail.headers import ascii_address, header_text
from mail.message import build_message
from outreach.errors import SchemaError

from mail_helpers import dead_letters, make_draft, produce, run_bounded

FROM = "Acme Sales <sales@acme.example>"
SEPARATORS = ["\v", "\f", "\x85", "\u2028", "\u2029", "\x00", "\u202e", "\ufeff", "\t\r\n"]


@pytest.mark.parametrize("sep", SEPARATORS)
@pytest.mark.parametrize("field", ["campaign", "variant", "subject", "to_name", "model_id"])
def test_every_header_value_from_data_is_one_clean_line(field, sep):
    draft = make_draft("c", 1)
    draft[field] = f"spring{sep}Bcc: victim@example.com"
    raw = bytes(build_message(draft, FROM))
    msg = message_from_bytes(raw, policy=policy.default)
    assert msg["Bcc"] is None
    headers = raw.split(b"\n\n", 1)[0].decode("ascii", "replace")
    assert not any(ch in headers for ch in "\v\f\x00")


def test_header_text_drops_controls_and_separators():
    assert header_text("a\u2028b\vc\u202ed\x85e") == "a b c d e"  # bidi override dropped
    assert header_text("x" * 5000) == "x" * 900


def test_idna_domain_and_non_ascii_local_part():
    assert ascii_address("anna@bücher.de") == ("anna", "xn--bcher-kva.de")
    msg = build_message(make_draft("c", 2, to_email="anna@bücher.de"), FROM)
    assert msg["To"].addresses[0].domain == "xn--bcher-kva.de"
    with pytest.raises(SchemaError) as caught:
        build_message(make_draft("c", 3, to_email="jörg@example.com"), FROM)
    assert caught.value.code == "needs_smtputf8"


def test_unsendable_drafts_are_dead_lettered_and_the_next_one_sent(mail_settings, sink):
    campaign = f"h{uuid.uuid4().hex[:6]}"
    bad_tab = dict(make_draft(campaign, 1), campaign=f"{campaign}\vX")
    bad_local = make_draft(campaign, 2, to_email=f"jörg@{campaign}.example")
    idna = make_draft(campaign, 3, to_email=f"anna@bü{campaign}.example")
    good = make_draft(campaign, 4, subject="Hello\u2028there")
    produce(mail_settings, bad_tab, bad_local, idna, good)
    stats = run_bounded(mail_settings, max_messages=4)
    sent = sorted(p.name for p in sink.files())
    assert sent == sorted(f"{d['draft_id']}.eml" for d in (bad_tab, idna, good))
    letters = [x for x in dead_letters(mail_settings) if x["request_id"] == bad_local["request_id"]]
    assert [x["error_type"] for x in letters] == ["needs_smtputf8"]
    assert stats.sent == 3


def test_no_smtp_login_without_tls_beyond_loopback(mail_settings):
    from mail.transport import SmtpTransport
    from outreach.errors import ConfigError

    remote = mail_settings.sender.model_copy(update={
        "smtp_host": "smtp.example.com", "smtp_user": "u", "smtp_password": SecretStr("p"),
        "smtp_starttls": False, "unsubscribe_base_url": "https://o.example.com/unsubscribe",
        "unsubscribe_secret": SecretStr("s")})
    with pytest.raises(ConfigError, match="without TLS"):
        SmtpTransport(remote)
    SmtpTransport(remote.model_copy(update={"smtp_starttls": True}))  # fine with STARTTLS


def test_no_real_relay_without_one_click_unsubscribe(mail_settings):
    from mail.transport import SmtpTransport
    from outreach.errors import ConfigError

    remote = mail_settings.sender.model_copy(update={
        "smtp_host": "smtp.example.com", "smtp_starttls": True, "unsubscribe_base_url": None})
    with pytest.raises(ConfigError, match="one-click"):
        SmtpTransport(remote)
    SmtpTransport(remote.model_copy(update={"require_one_click": False}))  # mailto only, on purpose
    SmtpTransport(remote.model_copy(update={  # configured: fine
        "unsubscribe_base_url": "https://o.example.com/unsubscribe",
        "unsubscribe_secret": SecretStr("s")}))
