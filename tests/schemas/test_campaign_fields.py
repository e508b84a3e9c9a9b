"""Schema evolution of the campaign fields: GenerationRequest.campaign_id/campaign_version,
EmailDraft and FeedbackExample campaign_version/evidence_ids. Records written before the fields
existed read with the defaults; older readers skip them."""

from __future__ import annotations

import json

import pytest

from outreach.leadgen import generate
from schemas.codec import AVRO_DIR, RECORD_FILES, AvroCodec, SchemaStore

NEW_FIELDS = {
    "GenerationRequest": {"campaign_id": "", "campaign_version": 0},
    "EmailDraft": {"campaign_version": 0, "evidence_ids": []},
    "FeedbackExample": {"campaign_version": 0, "evidence_ids": []},
}


def _without_campaign_fields(name: str) -> dict:
    schema = json.loads((AVRO_DIR / RECORD_FILES[name]).read_text())
    schema["fields"] = [f for f in schema["fields"] if f["name"] not in NEW_FIELDS[name]]
    return schema


def _older_codec(name: str) -> AvroCodec:
    """A codec whose current ``name`` is the schema before the campaign fields."""
    store = SchemaStore()
    store.current[name] = store.add(_without_campaign_fields(name))
    return AvroCodec(store=store)


@pytest.fixture()
def records() -> dict[str, dict]:
    lead = generate(1, seed=2, campaign="c1").leads[0]
    request = {"request_id": "r1", "lead": lead, "tier": "small", "variant": "control",
               "rule": "default", "attempt": 0, "received_at": 1, "routed_at": 2,
               "campaign_id": "c1", "campaign_version": 3}
    draft = {"draft_id": "d1", "request_id": "r1", "lead_id": lead["lead_id"], "campaign": "c1",
             "to_email": lead["email"], "to_name": "A", "company": "B", "subject": "s",
             "body": "b", "tier": "small", "variant": "control", "model_id": "m",
             "model_sha256": "0" * 64, "prompt_hash": "h", "prompt_tokens": 1,
             "completion_tokens": 1, "latency_ms": 1.0, "lead_to_draft_ms": 1.0,
             "estimated_cost_usd": 0.0, "created_at": 3, "campaign_version": 3,
             "evidence_ids": ["lp-match-rate", "cs-2"]}
    example = {"example_id": "e1", "lead": lead, "draft_id": "d1", "subject": "s", "body": "b",
               "model_id": "m", "variant": "control", "reward": 1.0, "created_at": 4,
               "campaign_version": 3, "evidence_ids": ["lp-match-rate"]}
    return {"GenerationRequest": request, "EmailDraft": draft, "FeedbackExample": example}


@pytest.mark.parametrize("name", sorted(NEW_FIELDS))
def test_new_writer_to_old_reader_and_old_writer_to_new_reader(name, records):
    current = AvroCodec()
    older = _older_codec(name)
    # Each side knows the other's writer schema (shipped .avsc files or a registry).
    older.store.add(json.loads((AVRO_DIR / RECORD_FILES[name]).read_text()))
    current.store.add(_without_campaign_fields(name))
    record = records[name]
    as_old = older.decode(current.encode(name, record), name)
    assert not set(NEW_FIELDS[name]) & set(as_old)
    # A record from before the fields: the current reader fills in the defaults.
    old_record = {k: v for k, v in record.items() if k not in NEW_FIELDS[name]}
    as_new = current.decode(older.encode(name, old_record), name)
    for field, default in NEW_FIELDS[name].items():
        assert as_new[field] == default
    # And the current round trip keeps the values.
    again = current.decode(current.encode(name, record), name)
    assert {k: again[k] for k in NEW_FIELDS[name]} == {k: record[k] for k in NEW_FIELDS[name]}
