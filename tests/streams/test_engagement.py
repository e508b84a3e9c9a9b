"""EngagementEvent decoding (Avro and JSON on one topic) and ESP webhook mapping."""

import pytest

from outreach.errors import SchemaError
from schemas.codec import AvroCodec
from streams.engagement import from_webhook, parse_event

CODEC = AvroCodec()
EVENT = {"event_id": "e1", "draft_id": "d1", "type": "OPENED", "email": None, "reply_text": None,
         "url": None, "source": "sender", "occurred_at": 1700000000000}


def test_avro_and_json_decode_to_the_same_event():
    assert parse_event(CODEC.encode("EngagementEvent", EVENT), CODEC) == EVENT
    raw = b'{"event_id": "e1", "draft_id": "d1", "type": "opened", "occurred_at": 1700000000000}'
    assert parse_event(raw, CODEC) == EVENT


@pytest.mark.parametrize("raw,code", [
    (None, "empty"), (b"{oops", "invalid_json"), (b"\x07\x01", "bad_framing"),
    (b'{"event_id": "", "draft_id": "d", "type": "OPENED", "occurred_at": 1}', "invalid_event"),
    (b'{"event_id": "e", "draft_id": "d", "type": "REPLIED", "occurred_at": 1}', "invalid_event"),
    (b'{"event_id": "e", "draft_id": "d", "type": "UNKNOWN", "occurred_at": 1}', "invalid_event"),
])
def test_bad_records_raise_schema_errors_with_codes(raw, code):
    with pytest.raises(SchemaError) as info:
        parse_event(raw, CODEC)
    assert info.value.code == code


def test_webhook_vocabularies_timestamps_and_stable_ids():
    events = from_webhook([
        {"event": "spamreport", "email": "x@y.example", "draft_id": "d1", "timestamp": 1700000000},
        {"RecordType": "Bounce", "Metadata": {"draft_id": "d2"}, "timestamp": 1700000000123},
        {"event": "group_unsubscribe", "user-variables": {"draft_id": "d3"},
         "timestamp": "2026-01-01T00:00:00Z", "esp": "mailgun"},
    ], now_ms=5)
    assert [e["type"] for e in events] == ["COMPLAINED", "BOUNCED", "UNSUBSCRIBED"]
    assert [e["occurred_at"] for e in events][:2] == [1700000000000, 1700000000123]
    assert events[2]["source"] == "webhook:mailgun"
    assert from_webhook(events[0] | {"event": "spamreport"}, now_ms=9)[0]["event_id"] == \
        events[0]["event_id"]  # the same webhook retried maps to the same id


def test_webhook_rejects_everything_when_one_entry_is_bad():
    with pytest.raises(SchemaError) as info:
        from_webhook([{"event": "open", "draft_id": "d"}, {"event": "open"}, "text"])
    assert "events[1]: draft_id is empty" in str(info.value)
    assert "events[2]: an event must be a JSON object" in str(info.value)
