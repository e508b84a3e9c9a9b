"""What is paused now, and why: the dashboard's banner and `outreach sending status` read it."""

from __future__ import annotations

from typing import Any

import redis

from outreach.errors import StoreError
from outreach.settings import Settings
from outreach.store import sync_client
from sending.guardrails import Guardrails
from sending.keys import prefix
from sending.mailboxes import PAUSED, MailboxBook
from sending.schedule import Schedule


def paused(settings: Settings, client: redis.Redis | None = None) -> dict[str, Any]:
    """{"mailboxes": {address: {reason, since_ms}}, "campaigns": {id: {reason, since_ms}},
    "queued": {queue: drafts}}; raises StoreError when Redis fails."""
    own = client is None
    client = client or sync_client(settings.redis_url or "")
    try:
        return _paused(settings, client)
    finally:
        if own:
            client.close()


def _paused(settings: Settings, client: redis.Redis) -> dict[str, Any]:
    book = MailboxBook(client, prefix(settings))
    guard = Guardrails(client, prefix(settings), settings.sending.guardrails, book)
    try:
        mailboxes = {address: state for address in book.known()
                     if (state := book.status(address)).get("status") == PAUSED}
        return {"mailboxes": mailboxes, "campaigns": guard.paused_campaigns(),
                "queued": Schedule(client, prefix(settings)).sizes()}
    except redis.RedisError as exc:
        raise StoreError(f"cannot read the sending state: {exc}") from exc
