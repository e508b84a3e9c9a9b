"""RFC 8058 one-click unsubscribe in `outreach demo`: every demo email carries it, and the demo
clicks one link the way a mail client does and waits for the address to be suppressed.

A real deployment sets ``sender.unsubscribe_base_url`` to the dashboard's public https
``/unsubscribe`` and a shared ``sender.unsubscribe_secret``. The demo has no public host, so
unless the settings file set them it points the links at its own dashboard on loopback
(mail/unsubscribe.py accepts http only for loopback hosts) with a secret made for this run.
"""

from __future__ import annotations

import email
import email.policy
import re
import secrets
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from outreach.settings import Settings
from outreach.stack import free_port
from outreach.store import SyncStore

# What a mail client sends for one-click (RFC 8058 section 3.2).
ONE_CLICK_BODY = "List-Unsubscribe=One-Click"


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex((host, port)) != 0


def with_demo_one_click(settings: Settings) -> Settings:
    """``settings`` whose sender writes one-click links to the demo's own dashboard (a copy:
    settings are never mutated); unchanged when the operator configured one-click already."""
    if settings.sender.unsubscribe_base_url:
        return settings
    host, port = settings.dashboard.host, settings.dashboard.port
    if not _port_free(host, port):
        port = free_port()
    sender = settings.sender.model_copy(update={
        "unsubscribe_base_url": f"http://{host}:{port}/unsubscribe",
        "unsubscribe_secret": SecretStr(secrets.token_urlsafe(32))})  # this run's links only
    dashboard = settings.dashboard.model_copy(update={"port": port})
    return settings.model_copy(update={"sender": sender, "dashboard": dashboard})


@dataclass(frozen=True)
class OneClickResult:
    eml: str
    status: int
    suppressed_after_s: float | None  # None: not suppressed within the wait

    def describe(self) -> str:
        if self.status != 200:
            return f"POST answered {self.status} ({self.eml})"
        if self.suppressed_after_s is None:
            return f"POST 200, address NOT suppressed in time ({self.eml})"
        return f"POST 200, address suppressed {self.suppressed_after_s:.1f} s later ({self.eml})"


def one_click_link(eml: Path) -> tuple[str, str] | None:
    """(the http(s) List-Unsubscribe URL, the recipient) of a written message, if it has one
    together with ``List-Unsubscribe-Post: List-Unsubscribe=One-Click``."""
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    if message.get("List-Unsubscribe-Post", "").strip() != ONE_CLICK_BODY:
        return None
    found = re.search(r"<(https?://[^>]+)>", message.get("List-Unsubscribe", ""))
    if not found:
        return None
    return found.group(1), message["To"].addresses[0].addr_spec


def _post_one_click(url: str) -> int:
    request = urllib.request.Request(url, data=ONE_CLICK_BODY.encode(), method="POST", headers={
        "Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(request, timeout=10.0) as response:
            return response.status
    except urllib.error.HTTPError as exc:  # 4xx/5xx: the status is the result
        return exc.code


def click_one(mail_dir: Path, store: SyncStore, wait_s: float = 60.0,
              key_prefix: str | None = None) -> OneClickResult | None:
    """POST the one-click body to the first written message's link, as Gmail would, and time
    how long until its recipient is suppressed; None when no message carries a one-click link.
    With ``key_prefix`` the click is first registered as a self-test (streams/synthetic.py),
    so no KPI, guardrail or training label counts it as a recipient's unsubscribe."""
    from engagement.unsubscribe import unsubscribe_event
    from mail.message import DRAFT_ID_HEADER
    from streams.synthetic import mark_self_test

    for eml in sorted(mail_dir.glob("*.eml")):
        link = one_click_link(eml)
        if link is None:
            continue
        url, recipient = link
        if key_prefix is not None:
            message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
            draft_id = str(message.get(DRAFT_ID_HEADER, "")).strip()
            if draft_id:
                mark_self_test(store.redis, key_prefix, unsubscribe_event(draft_id, 0)["event_id"])
        status = _post_one_click(url)
        started = time.monotonic()
        if status != 200:
            return OneClickResult(eml.name, status, None)
        while time.monotonic() - started < wait_s:
            if store.is_suppressed(recipient):
                return OneClickResult(eml.name, 200, time.monotonic() - started)
            time.sleep(0.25)
        return OneClickResult(eml.name, 200, None)
    return None
