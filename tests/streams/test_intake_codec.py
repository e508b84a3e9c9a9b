"""Intake's codec fast paths give the bytes and records the plain codec gives.

The Lead is read without schema resolution when its writer is the reader (schemas/codec.py),
and a request reuses its lead's received Avro body (schemas/splice.py); both must be invisible
to every consumer.
"""

import io
import json

import fastavro
import pytest

from apps.hostile_set import hostile_set
from outreach.errors import SchemaError
from outreach.leadgen import generate
from outreach.settings import load_settings
from schemas.codec import AVRO_DIR, AvroCodec, SchemaStore, _epoch_millis
from schemas.splice import SplicingEncoder
from streams.routing import build_request, choose_rule
from streams.screening import apply, screen_lead


def _leads():
    leads = generate(300, seed=21, campaign="c").leads
    # Screening withholds fields of these: their requests carry a changed lead.
    return leads + [case.lead for case in hostile_set("codec") if case.expect == "withheld"]


def _resolved(codec, data, name):
    """The decode before the fast path: writer -> reader resolution, datetimes back to ms."""
    writer = codec.store.by_fingerprint[data[2:10]]
    return _epoch_millis(fastavro.schemaless_reader(io.BytesIO(data[10:]), writer.parsed,
                                                    codec.store.reader(name).parsed))


def test_a_lead_decodes_as_schema_resolution_decoded_it():
    codec = AvroCodec()
    for lead in _leads():
        data = codec.encode("Lead", lead)
        record, body = codec.decode_keeping_body(data, "Lead")
        assert record == _resolved(codec, data, "Lead")
        assert {k: record[k] for k in lead} == lead  # and the optional fields it left out null
        assert all(record[k] is None for k in set(record) - set(lead))
        assert body == data[10:]


def test_requests_are_the_bytes_a_plain_encode_writes():
    codec, routing = AvroCodec(), load_settings().routing
    requests = SplicingEncoder(codec, "GenerationRequest", "lead")
    withheld = 0
    for lead in _leads():
        decoded, body = codec.decode_keeping_body(codec.encode("Lead", lead), "Lead")
        screening = screen_lead(decoded)
        topic, request = build_request(apply(decoded, screening), choose_rule(decoded, routing),
                                       1_796_000_000_000, 1_796_000_000_123, campaign_version=2)
        if screening.flagged:  # as intake does: the changed lead is encoded anew
            request.update({"withheld": screening.withheld,
                            "screening_reasons": screening.reasons, "review": True})
            body, withheld = None, withheld + 1
        value = requests.encode(request, body, topic=topic)
        assert value == codec.encode("GenerationRequest", request, topic=topic)
        assert codec.decode(value, "GenerationRequest")["lead"] == request["lead"]
    assert withheld > 10


def test_a_request_with_an_unknown_key_is_refused_as_before():
    codec = AvroCodec()
    lead = generate(1, seed=2, campaign="c").leads[0]
    decoded, body = codec.decode_keeping_body(codec.encode("Lead", lead), "Lead")
    _, request = build_request(decoded, load_settings().routing.rules[0], 1, 2)
    with pytest.raises(SchemaError):
        SplicingEncoder(codec, "GenerationRequest", "lead").encode(
            {**request, "leed_score": 3}, body)


def _lead_v2() -> dict:
    schema = json.loads((AVRO_DIR / "lead.avsc").read_text())
    schema["fields"].append({"name": "linkedin_url", "type": ["null", "string"], "default": None})
    return schema


def test_an_older_writer_is_resolved_and_its_body_never_reused():
    v2_store = SchemaStore()
    v2_store.current["Lead"] = v2_store.add(_lead_v2())
    lead = generate(1, seed=3, campaign="c").leads[0]
    data = AvroCodec(store=v2_store).encode("Lead", dict(lead, linkedin_url="https://x.io/a"))
    v1 = AvroCodec()
    v1.store.add(_lead_v2())
    record, body = v1.decode_keeping_body(data, "Lead")
    assert {k: record[k] for k in lead} == lead and body is None


def test_a_request_schema_that_embeds_another_lead_is_encoded_whole():
    """A store whose current Lead is v2 while GenerationRequest still embeds v1: the v2 body
    must not be spliced into a v1 request."""
    store = SchemaStore()
    store.current["Lead"] = store.add(_lead_v2())
    codec = AvroCodec(store=store)
    lead = dict(generate(1, seed=4, campaign="c").leads[0], linkedin_url=None)
    decoded, body = codec.decode_keeping_body(codec.encode("Lead", lead), "Lead")
    assert body is not None
    v1_lead = {key: value for key, value in decoded.items() if key != "linkedin_url"}
    _, request = build_request(v1_lead, load_settings().routing.rules[0], 1, 2)
    value = SplicingEncoder(codec, "GenerationRequest", "lead").encode(request, body)
    assert value == codec.encode("GenerationRequest", request)
