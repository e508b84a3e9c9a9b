"""Schema evolution of the ladder fields: GenerationRequest rung/rung_reasons/review and
EmailDraft rung/rung_reasons/review_status/reviewed_by. Records written before the fields
existed read with the defaults (a draft from before the ladder was the miniature's, unreviewed);
older readers skip them."""

from __future__ import annotations

import json

import pytest

from outreach.leadgen import generate
from schemas.codec import AVRO_DIR, RECORD_FILES, AvroCodec, SchemaStore

NEW_FIELDS = {
    "GenerationRequest": {"rung": "", "rung_reasons": [], "review": False},
    "EmailDraft": {"rung": "miniature", "rung_reasons": [], "review_status": "",
                   "reviewed_by": ""},
}
VALUES = {
    "GenerationRequest": {"rung": "llm", "rung_reasons": ["miniature: attempt 1: too short"],
                          "review": True},
    "EmailDraft": {"rung": "llm", "rung_reasons": ["miniature: attempt 2: no sign-off"],
                   "review_status": "edited", "reviewed_by": "ana"},
}


def _without(name: str) -> dict:
    schema = json.loads((AVRO_DIR / RECORD_FILES[name]).read_text())
    schema["fields"] = [f for f in schema["fields"] if f["name"] not in NEW_FIELDS[name]]
    return schema


def _records() -> dict[str, dict]:
    lead = generate(1, seed=3, campaign="c1").leads[0]
    request = {"request_id": "r1", "lead": lead, "tier": "llm", "variant": "control",
               "rule": "default", "attempt": 0, "received_at": 1, "routed_at": 2}
    draft = {"draft_id": "d1", "request_id": "r1", "lead_id": lead["lead_id"], "campaign": "c1",
             "to_email": lead["email"], "to_name": "A", "company": "B", "subject": "s",
             "body": "b", "tier": "llm", "variant": "control", "model_id": "llm:m",
             "model_sha256": "0" * 64, "prompt_hash": "h", "prompt_tokens": 1,
             "completion_tokens": 1, "latency_ms": 1.0, "lead_to_draft_ms": 1.0,
             "estimated_cost_usd": 0.0002, "created_at": 3}
    return {"GenerationRequest": request, "EmailDraft": draft}


@pytest.mark.parametrize("name", sorted(NEW_FIELDS))
def test_old_and_new_writers_and_readers_interoperate(name):
    current = AvroCodec()
    store = SchemaStore()
    store.current[name] = store.add(_without(name))
    older = AvroCodec(store=store)
    older.store.add(json.loads((AVRO_DIR / RECORD_FILES[name]).read_text()))
    current.store.add(_without(name))
    base = _records()[name]
    record = {**base, **VALUES[name]}
    as_old = older.decode(current.encode(name, record), name)
    assert not set(NEW_FIELDS[name]) & set(as_old)
    as_new = current.decode(older.encode(name, base), name)
    assert {k: as_new[k] for k in NEW_FIELDS[name]} == NEW_FIELDS[name]
    again = current.decode(current.encode(name, record), name)
    assert {k: again[k] for k in NEW_FIELDS[name]} == VALUES[name]
    # A writer that leaves the new fields out gets the defaults written (fastavro).
    assert {k: current.decode(current.encode(name, base), name)[k]
            for k in NEW_FIELDS[name]} == NEW_FIELDS[name]
