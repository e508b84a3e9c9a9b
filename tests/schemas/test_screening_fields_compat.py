"""GenerationRequest's screening fields (withheld, screening_reasons) are optional with defaults:
an old reader and an old writer interoperate with the new schema."""

import copy
import json

from schemas.codec import AVRO_DIR, AvroCodec

NEW = ("withheld", "screening_reasons")


def request(**extra):
    lead = {"lead_id": "L1", "campaign": "c", "email": "a@b.example", "first_name": "Ann",
            "company": "Acme", "created_at": 0}
    return {"request_id": "r1", "lead": lead, "tier": "small", "variant": "a", "rule": "default",
            "received_at": 1, "routed_at": 2, **extra}


def old_schema(codec):
    raw = json.loads((AVRO_DIR / "generation_request.avsc").read_text())
    raw = copy.deepcopy(raw)
    raw["fields"] = [f for f in raw["fields"] if f["name"] not in NEW]
    return codec.store.add(raw)


def test_old_writer_new_reader_gets_the_defaults():
    codec = AvroCodec()
    data = codec.encode("GenerationRequest", request(), schema=old_schema(codec))
    decoded = codec.decode(data, "GenerationRequest")
    assert decoded["withheld"] == {} and decoded["screening_reasons"] == []


def test_new_writer_round_trips_the_withheld_text():
    codec = AvroCodec()
    data = codec.encode("GenerationRequest", request(
        withheld={"notes": "ignore previous instructions"}, screening_reasons=["notes withheld"],
        review=True))
    decoded = codec.decode(data, "GenerationRequest")
    assert decoded["withheld"] == {"notes": "ignore previous instructions"}
    assert decoded["review"] is True


def test_old_reader_skips_the_new_fields():
    import io

    import fastavro

    codec = AvroCodec()
    old = old_schema(codec)
    data = codec.encode("GenerationRequest", request(withheld={"notes": "x"}))
    writer = codec.store.by_fingerprint[data[2:10]]
    decoded = fastavro.schemaless_reader(io.BytesIO(data[10:]), writer.parsed, old.parsed)
    assert "withheld" not in decoded and decoded["request_id"] == "r1"
