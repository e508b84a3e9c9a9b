"""SmtpTransport and the .eml sink talking real SMTP to each other (aiosmtpd + smtplib)."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from outreach.errors import ConfigError, SendError
from mail import EmlWriter, smtp_sink
from mail.message import build_message
from mail.transport import RecipientRejected, SmtpTransport
from outreach.settings import SenderSettings
from outreach.stack import free_port

from mail_helpers import ScriptedSink, make_draft

FROM = "Acme Sales <sales@acme.example>"


def message(n: int, **fields):
    return build_message(make_draft("transport", n, **fields), FROM)


def cfg(port: int) -> SenderSettings:
    return SenderSettings(smtp_host="127.0.0.1", smtp_port=port, from_address=FROM)


def test_no_host_refuses_to_build():
    with pytest.raises(ConfigError, match="nothing will be sent"):
        SmtpTransport(SenderSettings())


def test_sink_writes_one_eml_per_message_and_never_overwrites(tmp_path: Path):
    with smtp_sink(tmp_path) as sink, SmtpTransport(cfg(sink.port)) as transport:
        transport.send(message(1))
        transport.send(message(2))
        transport.send(message(1))  # the same Message-ID again: kept, not overwritten
    assert [p.name for p in sink.files()] == [
        "drf-transport-1-2.eml", "drf-transport-1.eml", "drf-transport-2.eml"]
    assert not list(tmp_path.glob(".*.tmp"))
    assert [m["Subject"] for m in sink.messages()] == ["Idea for Acme #1"] * 2 + ["Idea for Acme #2"]


def test_body_lines_beginning_with_from_arrive_as_written(tmp_path: Path):
    # smtplib's send_message mbox-quotes them (">From what I understand"): the recipient must
    # read what the model wrote.
    body = "Hi Ann,\n\nFrom what I understand, Acme pays invoices twice.\nFrom here on, less.\n\nBest,\nSam"
    with smtp_sink(tmp_path) as sink, SmtpTransport(cfg(sink.port)) as transport:
        transport.send(message(1, body=body))
    raw = sink.files()[0].read_bytes()
    assert b"\nFrom what I understand" in raw and b">From" not in raw
    content = sink.messages()[0].get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert content.startswith(body)


def test_unknown_recipient_is_a_permanent_rejection(tmp_path: Path):
    handler = ScriptedSink(tmp_path, reject_local="nobody")
    with smtp_sink(tmp_path, handler=handler) as sink, SmtpTransport(cfg(sink.port)) as transport:
        with pytest.raises(RecipientRejected) as caught:
            transport.send(message(1, to_email="nobody@acme.example"))
        assert caught.value.code == 550
        transport.send(message(2))  # the session stays usable after a refused recipient
    assert [p.name for p in sink.files()] == ["drf-transport-2.eml"]


def test_deferral_is_transient_and_the_next_try_succeeds(tmp_path: Path):
    handler = ScriptedSink(tmp_path, defer_data=1)
    with smtp_sink(tmp_path, handler=handler) as sink, SmtpTransport(cfg(sink.port)) as transport:
        with pytest.raises(SendError) as caught:
            transport.send(message(1))
        assert not isinstance(caught.value, RecipientRejected)
        transport.send(message(1))
    assert [p.name for p in sink.files()] == ["drf-transport-1.eml"]


def test_unreachable_server_is_transient():
    with SmtpTransport(cfg(free_port())) as transport:  # nothing listens there
        with pytest.raises(SendError) as caught:
            transport.send(message(1))
    assert not isinstance(caught.value, RecipientRejected)


def test_session_closed_by_the_server_is_reopened(tmp_path: Path):
    port = free_port()
    first = Controller(EmlWriter(tmp_path), hostname="127.0.0.1", port=port)
    first.start()
    transport = SmtpTransport(cfg(port))
    try:
        transport.send(message(1))
        first.stop()  # drops the idle session, as servers do after their idle timeout
        second = Controller(EmlWriter(tmp_path), hostname="127.0.0.1", port=port)
        second.start()
        try:
            transport.send(message(2))
        finally:
            second.stop()
    finally:
        transport.close()
    assert sorted(p.name for p in tmp_path.glob("*.eml")) == [
        "drf-transport-1.eml", "drf-transport-2.eml"]
