"""Handing messages to an SMTP server with smtplib, over one reused connection.

Failures come in two kinds, because they need opposite handling in the sender:
- ``SendError``: the server or the network failed (connection refused, 4xx, auth, timeouts).
  Every later draft would fail the same way, so the sender keeps the draft and retries it.
- ``RecipientRejected``: the server answered 5xx to this recipient or this message's content
  (550 no such user, 554 rejected as spam). Retrying cannot help and would block the
  partition forever, so the sender dead-letters that one draft and moves on.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage

from outreach.errors import ConfigError, SendError
from outreach.settings import SenderSettings

log = logging.getLogger(__name__)

NO_SMTP_HOST = ("no SMTP server configured (sender.smtp_host is unset), so nothing will be sent: "
                "set OUTREACH_SENDER__SMTP_HOST (and OUTREACH_SENDER__SMTP_PORT), or use "
                "`outreach demo`, which points the sender at an embedded .eml sink")


class RecipientRejected(SendError):
    """A permanent (5xx) refusal of this one message; ``code`` is the SMTP reply code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


class SmtpTransport:
    """One lazily opened SMTP session, re-opened after any failure; use as a context manager."""

    def __init__(self, cfg: SenderSettings, timeout_s: float = 30.0) -> None:
        if not cfg.smtp_host:
            raise ConfigError(NO_SMTP_HOST)
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
                conn.login(self._cfg.smtp_user, self._cfg.smtp_password or "")
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
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            raise SendError(f"SMTP {self.address} failed: {exc}") from exc

    def _send(self, msg: EmailMessage) -> None:
        reused = self._conn is not None
        if self._conn is None:
            self._conn = self._open()
        try:
            self._conn.send_message(msg)
        except smtplib.SMTPServerDisconnected:
            if not reused:
                raise
            # Servers drop idle sessions (Postfix after 300 s); a reused session that turns out
            # closed is not a failure of this message: open a fresh one and try once more.
            log.debug("SMTP session to %s was closed by the server; reconnecting", self.address)
            self._conn = None
            self._conn = self._open()
            self._conn.send_message(msg)

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.quit()
        except (smtplib.SMTPException, OSError):
            conn.close()
