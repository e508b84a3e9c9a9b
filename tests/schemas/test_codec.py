import copy
import json
import struct

import pytest

from outreach.errors import SchemaError
from outreach.leadgen import generate
from schemas.campaign import Campaign
from schemas.codec import AVRO_DIR, SINGLE_OBJECT_MAGIC, AvroCodec, SchemaStore, RECORD_NAMES


@pytest.fixture(scope="module")
def codec():
    return AvroCodec()


@pytest.fixture()
def lead():
    return generate(1).leads[0]


def test_every_topic_record_round_trips(codec, lead):
    # A lead nested in another record is compared whole: give it every field, the optional
    # ones a CRM may leave out (time_zone, country, phone) as their defaults.
    full = codec.decode(codec.encode("Lead", lead), "Lead")
    assert {"time_zone", "country", "phone"} <= set(full)
    records = {
        "Lead": lead,
        "GenerationRequest": {"request_id": "r1", "lead": full, "tier": "small", "variant": "a",
                              "rule": "x", "attempt": 0, "received_at": 1, "routed_at": 2},
        "EmailDraft": {"draft_id": "d", "request_id": "r", "lead_id": "l", "campaign": "c",
                       "to_email": "a@b.io", "to_name": "A", "company": "B", "subject": "s",
                       "body": "b", "tier": "small", "variant": "a", "model_id": "m",
                       "model_sha256": "0" * 64, "prompt_hash": "h", "prompt_tokens": 10,
                       "completion_tokens": 20, "latency_ms": 1.5, "lead_to_draft_ms": 9.0,
                       "estimated_cost_usd": 1e-5, "created_at": 3},
        "EngagementEvent": {"event_id": "e", "draft_id": "d", "type": "REPLIED",
                            "reply_text": "yes", "occurred_at": 4},
        "FeedbackExample": {"example_id": "x", "lead": full, "draft_id": "d", "subject": "s",
                            "body": "b", "model_id": "m", "variant": "a", "labels": ["replied"],
                            "reward": 1.0, "created_at": 5},
        "ModelRelease": {"release_id": "r", "tier": "small", "role": "CHAMPION", "model_id": "m",
                         "model_version": "1", "uri": "/m.gguf", "sha256": "0" * 64,
                         "quant_type": "Q4_K_M", "base_model": "b", "manifest_uri": "/m.json",
                         "metrics": {"score": 0.9}, "created_at": 6},
        "DeadLetter": {"source_topic": "leads", "source_partition": 0, "source_offset": 7,
                       "key": None, "value": b"\x00raw", "error_type": "invalid_json",
                       "error": "bad", "stage": "intake", "failed_at": 8},
        "ABDecision": {"decision_id": "x", "action": "PROMOTE", "champion": "a",
                       "challenger": "b", "p_value": 0.01, "prob_beat": 0.99, "reason": "won",
                       "evidence_json": "{}", "decided_at": 9},
        "Campaign": Campaign(
            campaign_id="c", product="P", value_proposition="v.", calls_to_action=["Call?"],
            sender={"name": "A", "company": "B"},
            proof_points=[{"id": "p1", "text": "t.", "industries": ["x"]}]).to_record(),
    }
    assert set(records) == set(RECORD_NAMES)
    for name, record in records.items():
        data = codec.encode(name, record)
        assert data[:2] == SINGLE_OBJECT_MAGIC
        decoded = codec.decode(data, name)
        for key, value in record.items():
            assert decoded[key] == value, (name, key)


def test_single_object_header_carries_the_writer_fingerprint(codec, lead):
    data = codec.encode("Lead", lead)
    assert data[2:10] == codec.store.current["Lead"].fingerprint


def test_decode_errors_carry_stable_codes(codec, lead):
    good = codec.encode("Lead", lead)
    cases = {b"": "truncated", b"\x07abc": "bad_framing",
             SINGLE_OBJECT_MAGIC + b"\xff" * 8 + good[10:]: "unknown_schema",
             good[:14]: "corrupt_body", b"\x00" + struct.pack(">I", 1) + good[10:]: "no_registry"}
    for raw, code in cases.items():
        with pytest.raises(SchemaError) as info:
            codec.decode(raw, "Lead")
        assert info.value.code == code, raw


def test_encode_rejects_records_that_do_not_match(codec, lead):
    del lead["email"]
    with pytest.raises(SchemaError):
        codec.encode("Lead", lead)


def test_json_leads_are_validated_against_the_avro_schema(codec, lead):
    doc = {k: v for k, v in lead.items() if v is not None}
    doc["created_at"] = "2026-01-02T03:04:05Z"
    parsed = codec.from_json(json.dumps(doc), "Lead")
    assert parsed["created_at"] == 1767323045000
    assert parsed["last_name"] == lead["last_name"]
    for bad, fragment in [(dict(doc, lead_score="high"), "lead_score"),
                          ({k: v for k, v in doc.items() if k != "company"}, "company"),
                          (dict(doc, favourite_colour="red"), "favourite_colour")]:
        with pytest.raises(SchemaError, match=fragment):
            codec.from_json(json.dumps(bad), "Lead")
    with pytest.raises(SchemaError, match="invalid JSON"):
        codec.from_json(b"{nope", "Lead")


def _lead_v2() -> dict:
    schema = json.loads((AVRO_DIR / "lead.avsc").read_text())
    schema["fields"].append({"name": "linkedin_url", "type": ["null", "string"],
                             "default": None})
    return schema


def test_v1_consumer_reads_v2_records_and_v2_consumer_reads_v1(lead):
    v1 = AvroCodec()
    # A v2 producer: its store knows v2 as the current Lead.
    v2_store = SchemaStore()
    v2_entry = v2_store.add(_lead_v2())
    v2_store.current["Lead"] = v2_entry
    v2 = AvroCodec(store=v2_store)

    v2_record = dict(lead, linkedin_url="https://www.linkedin.com/in/example")
    v2_bytes = v2.encode("Lead", v2_record)
    # The v1 consumer learns v2's schema (shipped .avsc or a registry) and reads as v1.
    v1.store.add(_lead_v2())
    as_v1 = v1.decode(v2_bytes, "Lead")
    assert "linkedin_url" not in as_v1 and as_v1["email"] == lead["email"]

    as_v2 = v2.decode(v1.encode("Lead", lead), "Lead")
    assert as_v2["linkedin_url"] is None and as_v2["company"] == lead["company"]


def test_unknown_v2_schema_is_reported_not_guessed(lead):
    v2_store = SchemaStore()
    v2_store.current["Lead"] = v2_store.add(_lead_v2())
    data = AvroCodec(store=v2_store).encode("Lead", dict(lead, linkedin_url=None))
    with pytest.raises(SchemaError, match="unknown writer schema"):
        AvroCodec().decode(data, "Lead")
