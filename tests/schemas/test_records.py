"""Every typed record class matches its .avsc: the same fields, in the same order, with the
Python type the Avro type decodes to (nested records, unions with null, enums, arrays, maps)."""

from __future__ import annotations

import json
import typing
from typing import Any, Literal, Optional, TypedDict, Union, get_args, get_origin

import pytest

from schemas.codec import AVRO_DIR, RECORD_FILES
from schemas.records import RECORD_TYPES

class RecordRef:
    """A nested Avro record inside an expected annotation (compared by name, then by fields)."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema


PRIMITIVES = {"string": str, "int": int, "long": int, "double": float, "float": float,
              "boolean": bool, "bytes": bytes}


def expected(avro: Any, named: dict[str, Any]) -> Any:
    """The Python annotation fastavro's decoded value of ``avro`` should have."""
    if isinstance(avro, str):
        if avro in PRIMITIVES:
            return PRIMITIVES[avro]
        return named[avro.rpartition(".")[2]]
    if isinstance(avro, list):
        rest = [a for a in avro if a != "null"]
        assert len(rest) == 1, f"only [null, T] unions are used: {avro}"
        return Optional[expected(rest[0], named)]
    kind = avro["type"]
    if kind == "record":
        named[avro["name"]] = RecordRef(avro)
        return named[avro["name"]]
    if kind == "enum":
        return Literal[tuple(avro["symbols"])]
    if kind == "array":
        return list[expected(avro["items"], named)]
    if kind == "map":
        return dict[str, expected(avro["values"], named)]
    return PRIMITIVES[kind]  # a primitive with a logicalType (timestamp-millis -> int)


def mismatches(cls: type, schema: dict[str, Any], named: dict[str, Any]) -> list[str]:
    hints = typing.get_type_hints(cls)
    found = []
    if list(hints) != [f["name"] for f in schema["fields"]]:
        found.append(f"{cls.__name__}: fields {list(hints)} != "
                     f"{[f['name'] for f in schema['fields']]}")
        return found
    # NotRequired <=> an Avro default: the codec writes the default for an omitted field, and a
    # type checker flags a producer that omits any other.
    defaulted = sorted(f["name"] for f in schema["fields"] if "default" in f)
    optional = sorted(cls.__optional_keys__)
    if optional != defaulted:
        found.append(f"{cls.__name__}: NotRequired {optional} != defaulted {defaulted}")
    for field in schema["fields"]:
        want = expected(field["type"], named)
        got = hints[field["name"]]
        found += compare(f"{cls.__name__}.{field['name']}", got, want, named)
    return found


def compare(where: str, got: Any, want: Any, named: dict[str, Any]) -> list[str]:
    if isinstance(want, RecordRef):
        if not (isinstance(got, type) and issubclass(got, dict)
                and got.__name__ == want.schema["name"]):
            return [f"{where}: {got} is not the record class {want.schema['name']}"]
        return mismatches(got, want.schema, named)
    got_origin, want_origin = get_origin(got), get_origin(want)
    if want_origin is Union:
        if got_origin is not Union or type(None) not in get_args(got):
            return [f"{where}: {got} is not Optional"]
        inner = [a for a in get_args(got) if a is not type(None)][0]
        return compare(where, inner, [a for a in get_args(want) if a is not type(None)][0],
                       named)
    if want_origin in (list, dict):
        if got_origin is not want_origin:
            return [f"{where}: {got} is not a {want_origin.__name__}"]
        return [m for g, w in zip(get_args(got), get_args(want))
                for m in compare(where, g, w, named)]
    if want_origin is Literal:
        return [] if got_origin is Literal and set(get_args(got)) == set(get_args(want)) \
            else [f"{where}: {got} != {want}"]
    return [] if got is want else [f"{where}: {got} != {want}"]


@pytest.mark.parametrize("name", list(RECORD_FILES))
def test_record_class_matches_its_schema(name: str) -> None:
    named: dict[str, Any] = {}
    # Records that embed Lead resolve it by name, as the codec's store does.
    lead = json.loads((AVRO_DIR / RECORD_FILES["Lead"]).read_text())
    named["Lead"] = RecordRef(lead)
    schema = json.loads((AVRO_DIR / RECORD_FILES[name]).read_text())
    assert mismatches(RECORD_TYPES[name], schema, named) == []


def test_every_schema_has_a_class() -> None:
    assert set(RECORD_TYPES) == set(RECORD_FILES)


def test_the_comparison_sees_a_renamed_or_retyped_field() -> None:
    class Renamed(TypedDict):
        lead: str

    class Retyped(TypedDict):
        lead_id: int

    schema = {"name": "X", "fields": [{"name": "lead_id", "type": "string"}]}
    assert mismatches(Renamed, schema, {}) and mismatches(Retyped, schema, {})


def test_the_comparison_sees_a_defaulted_field_that_is_required() -> None:
    class Required(TypedDict):
        lead_id: str
        source: str  # the schema gives it a default: NotRequired expected

    schema = {"name": "X", "fields": [{"name": "lead_id", "type": "string"},
                                      {"name": "source", "type": "string", "default": ""}]}
    assert mismatches(Required, schema, {}) == [
        "Required: NotRequired [] != defaulted ['source']"]


class Fact(TypedDict):
    id: int  # the schema below says string


class Holder(TypedDict):
    facts: list[Fact]


def test_the_comparison_reaches_into_nested_records() -> None:
    schema = {"name": "Holder", "fields": [{"name": "facts", "type": {
        "type": "array", "items": {"type": "record", "name": "Fact",
                                   "fields": [{"name": "id", "type": "string"}]}}}]}
    assert mismatches(Holder, schema, {}) == ["Fact.id: <class 'int'> != <class 'str'>"]
