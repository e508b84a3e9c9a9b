"""EngagementEvent intake: decode (Avro or JSON) and validate, and map ESP webhook JSON.

``engagement.events`` carries Avro from our own senders and JSON from ESP bridges on the same
topic; the first byte tells them apart (Avro framing starts 0xC3 or 0x00, JSON with ``{``).
Every problem raises SchemaError with a stable code, which the feedback app dead-letters and the
webhook returns as a 4xx reason.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any, cast

from outreach.errors import SchemaError
from schemas.codec import AvroCodec, json_object
from schemas.records import EngagementEvent

TYPES = ("DELIVERED", "OPENED", "CLICKED", "REPLIED", "BOUNCED", "UNSUBSCRIBED", "COMPLAINED")
# Events that put the address on the suppression list at once (design: no later lead drafted).
SUPPRESSING = frozenset({"BOUNCED", "UNSUBSCRIBED", "COMPLAINED"})
# ESP vocabularies (SendGrid, Mailgun, Postmark, SES and our own) -> EngagementType.
ESP_TYPES: dict[str, str] = {
    **{t.lower(): t for t in TYPES},
    "delivered": "DELIVERED", "delivery": "DELIVERED",
    "open": "OPENED", "opened": "OPENED",
    "click": "CLICKED", "clicked": "CLICKED",
    "reply": "REPLIED", "replied": "REPLIED", "inbound": "REPLIED",
    "bounce": "BOUNCED", "bounced": "BOUNCED", "hard_bounce": "BOUNCED", "failed": "BOUNCED",
    "unsubscribe": "UNSUBSCRIBED", "unsubscribed": "UNSUBSCRIBED",
    "group_unsubscribe": "UNSUBSCRIBED", "subscriptionchange": "UNSUBSCRIBED",
    "spamreport": "COMPLAINED", "complaint": "COMPLAINED", "complained": "COMPLAINED",
    "spamcomplaint": "COMPLAINED",
}
NESTED_METADATA = ("custom_args", "metadata", "Metadata", "user-variables", "user_variables")
MAX_REPLY_CHARS = 20_000  # a reply with a long quoted thread; the classifier reads the top


_ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]{2,}$")


def validate_event(event: Mapping[str, Any]) -> EngagementEvent:
    """Business rules the Avro schema cannot express; returns the event or raises SchemaError.
    (A webhook's event is a plain dict until here: these checks are what make it a record.)"""
    problems = []
    for name in ("event_id", "draft_id"):
        if not str(event.get(name) or "").strip():
            problems.append(f"{name} is empty")
    if event.get("type") not in TYPES:
        problems.append(f"type {event.get('type')!r} is not one of {', '.join(TYPES)}")
    if event.get("type") == "REPLIED" and not isinstance(event.get("reply_text"), str):
        problems.append("a REPLIED event needs reply_text")
    if not isinstance(event.get("occurred_at"), int) or event["occurred_at"] <= 0:
        problems.append("occurred_at must be epoch milliseconds")
    # An address, never a bare domain: suppression takes the draft's own address, and only
    # an operator may suppress a whole domain (`outreach suppress --domain`).
    if event.get("email") is not None and not _ADDRESS.match(event["email"]):
        problems.append("email is not an address")
    if problems:
        raise SchemaError("; ".join(problems), code="invalid_event")
    return cast(EngagementEvent, event)


def parse_event(raw: bytes | None, codec: AvroCodec) -> EngagementEvent:
    """Raw Kafka value (Avro or JSON) -> validated EngagementEvent dict."""
    if raw is None:
        raise SchemaError("record has no value (tombstone)", code="empty")
    if raw.lstrip()[:1] == b"{":
        doc = json_object(raw, "EngagementEvent")
        if isinstance(doc.get("type"), str):
            doc["type"] = doc["type"].upper()
        event = codec.from_dict(doc, "EngagementEvent")
    else:
        event = codec.decode(raw, "EngagementEvent")
    return validate_event(event)


# -- ESP webhooks ----------------------------------------------------------------------------
def from_webhook(payload: Any, now_ms: int | None = None) -> list[EngagementEvent]:
    """ESP webhook JSON (one object or a list) -> validated EngagementEvents, all or nothing.

    Raises SchemaError listing every malformed entry ("events[2]: ..."), so the caller can
    answer 4xx and publish none of them.
    """
    now_ms = now_ms or int(time.time() * 1000)
    items = payload if isinstance(payload, list) else [payload]
    if not items:
        raise SchemaError("no events in the payload", code="invalid_webhook")
    events, problems = [], []
    for index, item in enumerate(items):
        try:
            events.append(webhook_event(item, now_ms))
        except SchemaError as exc:
            problems.append(f"events[{index}]: {exc}" if isinstance(payload, list) else str(exc))
    if problems:
        raise SchemaError("; ".join(problems), code="invalid_webhook")
    return events


def webhook_event(item: Any, now_ms: int) -> EngagementEvent:
    if not isinstance(item, dict):
        raise SchemaError("an event must be a JSON object", code="invalid_webhook")
    fields = dict(item)
    for nested in NESTED_METADATA:  # ESPs echo our custom headers back in one of these
        if isinstance(item.get(nested), dict):
            fields = {**item[nested], **fields}
    kind = str(fields.get("type") or fields.get("event") or fields.get("RecordType") or "")
    event_type = ESP_TYPES.get(kind.strip().lower())
    if event_type is None:
        raise SchemaError(f"unknown event type {kind!r}", code="invalid_webhook")
    reply = fields.get("reply_text", fields.get("text", fields.get("body")))
    event = {
        "draft_id": str(fields.get("draft_id") or fields.get("X-Draft-Id") or ""),
        "type": event_type,
        "email": _opt_str(fields.get("email") or fields.get("recipient")),
        "reply_text": reply[:MAX_REPLY_CHARS] if isinstance(reply, str) else None,
        "url": _opt_str(fields.get("url")),
        "source": f"webhook:{fields['esp']}" if fields.get("esp") else "webhook",
        "occurred_at": _timestamp_ms(fields.get("occurred_at", fields.get("timestamp")), now_ms),
    }
    given_id = fields.get("event_id") or fields.get("sg_event_id") or fields.get("id")
    # Without an ESP id, the same webhook retried must map to the same id (de-duplication).
    event["event_id"] = str(given_id) if given_id else "evt-" + hashlib.sha256(json.dumps(
        [event["draft_id"], event_type, event["occurred_at"], event["email"], event["url"],
         event["reply_text"]]).encode()).hexdigest()[:24]
    return validate_event(event)


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _timestamp_ms(value: Any, now_ms: int) -> int:
    """Unix seconds, milliseconds or ISO-8601 -> epoch milliseconds; absent = now."""
    if value is None:
        return now_ms
    if isinstance(value, bool):
        raise SchemaError(f"bad timestamp {value!r}", code="invalid_webhook")
    if isinstance(value, (int, float)):
        # 1e11 s is the year 5138; anything larger is already milliseconds.
        return int(value if value > 1e11 else value * 1000)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise SchemaError(f"bad timestamp {value!r}", code="invalid_webhook") from exc
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=timezone.utc)
        return int(parsed.timestamp() * 1000)
    raise SchemaError(f"bad timestamp {value!r}", code="invalid_webhook")
