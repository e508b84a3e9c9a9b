"""Handing messages to an SMTP server with smtplib, over one reused connection.

Failures come in two kinds, because they need opposite handling in the sender:
- ``SendError``: the server or the network failed (connection refused, 4xx, auth, timeouts).
  Every later draft would fail the same way, so the sender keeps the draft and retries it.
- ``RecipientRejected``: the server answered 5xx to this recipient or this message's content
  (550 no such user, 554 rejected as spam). Retrying cannot help and would block the
  partition forever, so the sender dead-letters that one draft and moves on.
"""

from __future__ import annotations

import io
import logging
import smtplib
import ssl
from email.generator import BytesGenerator
from email.message import EmailMessage
from email.utils import getaddresses

from outreach.errors import ConfigError, RecipientRejected, SendError  # noqa: F401 - raised here
from outreach.settings import SenderSettings

log = logging.getLogger(__name__)

NO_SMTP_HOST = ("no SMTP server configured (sender.smtp_host is unset), so nothing will be sent: "
                "set OUTREACH_SENDER__SMTP_HOST (and OUTREACH_SENDER__SMTP_PORT), or use "
                "`outreach demo`, which points the sender at an embedded .eml sink")


LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


class SmtpTransport:
    """One lazily opened SMTP session, re-opened after any failure; use as a context manager."""

    def __init__(self, cfg: SenderSettings, timeout_s: float = 30.0) -> None:
        if not cfg.smtp_host:
            raise ConfigError(NO_SMTP_HOST)
        if cfg.require_one_click and not cfg.unsubscribe_base_url and cfg.smtp_host not in LOOPBACK:
            # Gmail and Yahoo require one-click unsubscribe of bulk senders (since 2024-02).
            raise ConfigError(f"refusing to send through {cfg.smtp_host} without one-click "
                              "unsubscribe (RFC 8058): set sender.unsubscribe_base_url (the "
                              "dashboard's public https /unsubscribe) and "
                              "sender.unsubscribe_secret, or sender.require_one_click: false to "
                              "send with a mailto unsubscribe only")
        if cfg.smtp_user and not cfg.smtp_starttls and cfg.smtp_host not in LOOPBACK:
            raise ConfigError(f"refusing to log in to {cfg.smtp_host} without TLS: set "
                              "sender.smtp_starttls (the password would cross the network in "
                              "clear)")
        self._cfg = cfg
        self._timeout_s = timeout_s
        self._conn: smtplib.SMTP | None = None

    @property
    def address(self) -> str:
        return f"{self._cfg.smtp_host}:{self._cfg.smtp_port}"

    def __enter__(self) -> SmtpTransport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _open(self) -> smtplib.SMTP:
        conn = smtplib.SMTP(self._cfg.smtp_host, self._cfg.smtp_port, timeout=self._timeout_s)
        try:
            conn.ehlo()
            if self._cfg.smtp_starttls:
                conn.starttls(context=ssl.create_default_context())
                conn.ehlo()
            if self._cfg.smtp_user:
                password = self._cfg.smtp_password
                conn.login(self._cfg.smtp_user, password.get_secret_value() if password else "")
        except BaseException:
            conn.close()
            raise
        return conn

    def send(self, msg: EmailMessage) -> None:
        """Hand ``msg`` over; returns once the server accepted it (250 after DATA)."""
        try:
            self._send(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            if codes and all(code >= 500 for code in codes):
                raise RecipientRejected(f"{self.address} refused {msg['To']}: {exc.recipients}",
                                        code=codes[0]) from exc
            self.close()
            raise SendError(f"{self.address} deferred {msg['To']}: {exc.recipients}") from exc
        except smtplib.SMTPDataError as exc:
            if exc.smtp_code >= 500:
                raise RecipientRejected(f"{self.address} rejected message {msg['Message-ID']}: "
                                        f"{exc.smtp_code} {exc.smtp_error!r}",
                                        code=exc.smtp_code) from exc
            self.close()
            raise SendError(f"{self.address} deferred message: {exc.smtp_code}") from exc
        except smtplib.SMTPNotSupportedError as exc:
            # A non-ASCII address and a relay without SMTPUTF8: no retry can change that, so
            # it is permanent (dead-lettered), not a SendError retried forever.
            raise RecipientRejected(f"{self.address} cannot take {msg['To']}: {exc}",
                                    code=553) from exc
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            raise SendError(f"SMTP {self.address} failed: {exc}") from exc

    def _send(self, msg: EmailMessage) -> None:
        reused = self._conn is not None
        if self._conn is None:
            self._conn = self._open()
        try:
            _send_unmangled(self._conn, msg)
        except smtplib.SMTPServerDisconnected:
            if not reused:
                raise
            # Servers drop idle sessions (Postfix after 300 s); a reused session that turns out
            # closed is not a failure of this message: open a fresh one and try once more.
            log.debug("SMTP session to %s was closed by the server; reconnecting", self.address)
            self._conn = None
            self._conn = self._open()
            _send_unmangled(self._conn, msg)

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.quit()
        except (smtplib.SMTPException, OSError):
            conn.close()


def wire_bytes(msg: EmailMessage, utf8: bool = False) -> bytes:
    """``msg`` as it goes on the wire, with body lines that begin "From " left as written.

    smtplib's send_message flattens an ASCII message with a policy-less generator, which
    mbox-quotes such lines: a model's "From what I understand, ..." reached the .eml sink as
    ">From what I understand" (demo, 2026-12-01), and a recipient would read it that way."""
    buffer = io.BytesIO()
    policy = msg.policy.clone(utf8=utf8, linesep="\r\n")
    BytesGenerator(buffer, mangle_from_=False, policy=policy).flatten(msg)
    return buffer.getvalue()


def _send_unmangled(conn: smtplib.SMTP, msg: EmailMessage) -> None:
    """What smtplib.SMTP.send_message does (envelope from the headers, SMTPUTF8 when an address
    needs it), but with ``wire_bytes``. The messages here carry no Bcc to strip."""
    sender = getaddresses([msg["Sender"] or msg["From"]])[0][1]
    recipients = [addr for _, addr in getaddresses(
        [str(v) for key in ("To", "Cc") for v in msg.get_all(key, [])])]
    international = not all(address.isascii() for address in (sender, *recipients))
    options: list[str] = []
    if international:
        if not conn.has_extn("smtputf8"):
            raise smtplib.SMTPNotSupportedError(
                "one of the addresses needs SMTPUTF8, which the server does not support")
        options = ["SMTPUTF8", "BODY=8BITMIME"]
    conn.sendmail(sender, recipients, wire_bytes(msg, utf8=international), options)
