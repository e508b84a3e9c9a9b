"""Hostile and broken lead records for the fault suite (``outreach chaos``) and the tests.

Every record here is meant to be refused by intake with a reason: random bytes, truncated and
bit-flipped Avro, mutated JSON, deep nesting, huge fields, wrong types. A random mutation can
by chance still be a valid lead (a bit flip inside a name); ``fuzz_records`` keeps only records
that intake's own parser refuses, and reports how many mutations it had to discard, so a
caller can assert "every fuzzed record was dead-lettered" without luck deciding the outcome.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, cast

from outreach.leadgen import make_lead
from outreach.topics import LEADS, LEADS_JSON
from schemas.codec import AvroCodec
from schemas.records import Lead

# 100,000 levels: far past json's recursion guard (~1,000 with the default limit) and
# Python's own stack, in 200 kB.
DEEP_LEVELS = 100_000
# Large but inside a Kafka message (1 MB by default, Tansu's limit too): a 200 kB field.
HUGE_CHARS = 200_000


@dataclass(frozen=True)
class FuzzRecord:
    topic: str  # leads (Avro) or leads.json
    value: bytes | None
    kind: str  # which mutation made it


def _valid(rng: random.Random, index: int, campaign: str) -> dict[str, Any]:
    return make_lead(rng, index, campaign)


def _random_bytes(rng: random.Random, lead: dict, codec: AvroCodec) -> FuzzRecord:
    topic = rng.choice([LEADS, LEADS_JSON])
    return FuzzRecord(topic, rng.randbytes(rng.randint(0, 400)), "random_bytes")


def _truncated_avro(rng: random.Random, lead: dict, codec: AvroCodec) -> FuzzRecord:
    data = codec.encode("Lead", cast(Lead, lead))  # make_lead (foundation) names no schema
    return FuzzRecord(LEADS, data[:rng.randint(0, len(data) - 1)], "truncated_avro")


def _bitflip_avro(rng: random.Random, lead: dict, codec: AvroCodec) -> FuzzRecord:
    data = bytearray(codec.encode("Lead", cast(Lead, lead)))
    for _ in range(rng.randint(1, 8)):
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    return FuzzRecord(LEADS, bytes(data), "bitflip_avro")


def _mutated_json(rng: random.Random, lead: dict, codec: AvroCodec) -> FuzzRecord:
    text = bytearray(json.dumps(lead).encode())
    for _ in range(rng.randint(1, 6)):
        op, at = rng.random(), rng.randrange(len(text))
        if op < 0.4:
            del text[at]
        elif op < 0.7:
            text.insert(at, rng.choice(b'{}[]",:\\\x00\xff'))
        else:
            text[at] = rng.randrange(256)
    return FuzzRecord(LEADS_JSON, bytes(text), "mutated_json")


def _deep(rng: random.Random, lead: dict, codec: AvroCodec) -> FuzzRecord:
    opener, closer = rng.choice([(b"[", b"]"), (b'{"a":', b"}")])
    inner = opener * DEEP_LEVELS + b"1" + closer * DEEP_LEVELS
    if rng.random() < 0.5:  # nested inside an otherwise valid lead's field
        inner = json.dumps(dict(lead, notes="X")).encode().replace(b'"X"', inner)
    return FuzzRecord(LEADS_JSON, inner, "deep_nesting")


def _huge_field(rng: random.Random, lead: dict, codec: AvroCodec) -> FuzzRecord:
    # A huge value in a field intake caps, plus a rule break so the record is refused whatever
    # the caps do: a 200 kB email is not an address.
    field = rng.choice(["email", "lead_id", "first_name"])
    bad = dict(lead, **{field: "", "email": "x" * HUGE_CHARS})
    if rng.random() < 0.5:
        return FuzzRecord(LEADS_JSON, json.dumps(bad).encode(), "huge_field")
    # Too big on purpose (intake's caps are under test); the codec still encodes it.
    return FuzzRecord(LEADS, codec.encode("Lead", cast(Lead, bad)), "huge_field")


WRONG_VALUES: list[Any] = [None, 1, -1, 1.5, True, [], {}, "", "🙂" * 3, 10**30, float("inf")]


def _wrong_type(rng: random.Random, lead: dict, codec: AvroCodec) -> FuzzRecord:
    bad = dict(lead)
    for _ in range(rng.randint(1, 3)):
        field = rng.choice(["lead_id", "campaign", "email", "first_name", "company",
                            "lead_score", "deal_size", "created_at", "company_size"])
        bad[field] = rng.choice(WRONG_VALUES)
    if rng.random() < 0.3:
        bad[f"unknown_{rng.randrange(100)}"] = 1
    try:
        return FuzzRecord(LEADS_JSON, json.dumps(bad).encode(), "wrong_type")
    except ValueError:  # inf is not JSON: send its text instead
        return FuzzRecord(LEADS_JSON, repr(bad).encode(), "wrong_type")


def _not_an_object(rng: random.Random, lead: dict, codec: AvroCodec) -> FuzzRecord:
    value = rng.choice([b"null", b"[]", b'"lead"', b"42", b"", b"\xef\xbb\xbf{}", None])
    return FuzzRecord(rng.choice([LEADS, LEADS_JSON]), value, "not_an_object")


MUTATIONS: list[Callable[[random.Random, dict, AvroCodec], FuzzRecord]] = [
    _random_bytes, _truncated_avro, _bitflip_avro, _mutated_json, _deep, _huge_field,
    _wrong_type, _not_an_object]


def refused(record: FuzzRecord, codec: AvroCodec) -> bool:
    """Whether intake's parser refuses ``record`` (with any error: that is the point)."""
    from streams.intake import parse_lead  # apps sit on top of the stages

    try:
        parse_lead(record.value, record.topic, codec)
    except Exception:  # noqa: BLE001 - any refusal is one: intake dead-letters them all
        return True
    return False


def fuzz_records(count: int, seed: int = 13, campaign: str = "fuzz") -> Iterator[FuzzRecord]:
    """``count`` records that intake must dead-letter, mutations in turn (deterministic)."""
    rng, codec = random.Random(seed), AvroCodec()
    made = index = 0
    while made < count:
        index += 1
        mutate = MUTATIONS[index % len(MUTATIONS)]
        record = mutate(rng, _valid(rng, index, campaign), codec)
        if refused(record, codec):
            made += 1
            yield record
