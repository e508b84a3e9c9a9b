"""An embedded SMTP sink (aiosmtpd): accepts every message and writes it to a folder as .eml.

This is what ``outreach demo`` and the tests point the sender at, so nothing is ever really
emailed. It speaks real SMTP on 127.0.0.1 (a free port), so the sender's smtplib code path is
the production one.

File names come from the X-Outreach-Draft-Id header, else the Message-ID, else a digest of the
content, reduced to [A-Za-z0-9._-]. A name that already exists is never overwritten: the second
copy gets a ``-2`` suffix, so a draft sent twice shows up as two files instead of hiding.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from outreach.errors import StackError
from mail.message import DRAFT_ID_HEADER, safe_token
from outreach.settings import Settings
from outreach.stack import free_port

log = logging.getLogger(__name__)
# aiosmtpd logs every SMTP command at INFO on "mail.log"; the sink reports one line a message.
logging.getLogger("mail.log").setLevel(logging.WARNING)

SINK_HOST = "127.0.0.1"
BIND_ATTEMPTS = 3  # free_port() can race with another process taking the port; retry briefly


class EmlWriter:
    """aiosmtpd handler: one .eml per accepted message, written atomically (temp + link)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content: bytes = envelope.original_content or envelope.content
        # The envelope is not part of the message; keep it visible like an MTA's Return-Path.
        trace = (f"X-Sink-Mail-From: <{envelope.mail_from}>\r\n"
                 f"X-Sink-Rcpt-To: {', '.join(f'<{r}>' for r in envelope.rcpt_tos)}\r\n")
        path = self.write(trace.encode() + content)
        log.info("sink stored %s for %s", path.name, ", ".join(envelope.rcpt_tos))
        return "250 2.0.0 Message accepted for delivery"

    def write(self, content: bytes) -> Path:
        headers = BytesHeaderParser(policy=policy.default).parsebytes(content)
        stem_source = (headers.get(DRAFT_ID_HEADER) or headers.get("Message-ID", "")).strip("<> ")
        stem = safe_token(stem_source) if stem_source else hashlib.sha256(content).hexdigest()[:24]
        tmp = self.folder / f".{stem}.{os.getpid()}.tmp"
        tmp.write_bytes(content)
        try:
            for copy in range(1, 1000):
                path = self.folder / (f"{stem}.eml" if copy == 1 else f"{stem}-{copy}.eml")
                try:
                    os.link(tmp, path)  # fails if the name exists: no overwrite, no torn file
                    return path
                except FileExistsError:
                    continue
            raise StackError(f"sink folder {self.folder} holds 999 copies of {stem}")
        finally:
            tmp.unlink(missing_ok=True)


@dataclass(frozen=True)
class SinkInfo:
    host: str
    port: int
    folder: Path

    def configure(self, settings: Settings) -> Settings:
        """``settings`` with the sender pointed at this sink (plain SMTP, no login)."""
        sender = settings.sender.model_copy(update={
            "smtp_host": self.host, "smtp_port": self.port, "smtp_starttls": False,
            "smtp_user": None, "smtp_password": None})
        return settings.model_copy(update={"sender": sender})

    def files(self) -> list[Path]:
        return sorted(self.folder.glob("*.eml"))

    def messages(self) -> list[EmailMessage]:
        return [message_from_bytes(path.read_bytes(), policy=policy.default)  # type: ignore[misc]
                for path in self.files()]


@contextlib.contextmanager
def smtp_sink(folder: Path, handler: EmlWriter | None = None) -> Iterator[SinkInfo]:
    """Run the sink until the context exits; ``folder`` is created if missing.

    ``handler`` replaces the default EmlWriter(folder), e.g. one that answers 4xx/5xx on cue.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    handler = handler or EmlWriter(folder)
    controller = None
    for attempt in range(1, BIND_ATTEMPTS + 1):
        # SMTPUTF8 lets smtplib hand over internationalised addresses as they are.
        candidate = Controller(handler, hostname=SINK_HOST, port=free_port(),
                               enable_SMTPUTF8=True)
        try:
            candidate.start()
        except (OSError, RuntimeError) as exc:
            if attempt == BIND_ATTEMPTS:
                raise StackError(f"SMTP sink could not start: {exc}") from exc
            continue
        controller = candidate
        break
    assert controller is not None
    log.info("SMTP sink on %s:%d writing to %s", SINK_HOST, controller.port, folder)
    try:
        yield SinkInfo(host=SINK_HOST, port=controller.port, folder=folder)
    finally:
        controller.stop()
