"""Encoding a record around sub-records that are already Avro bytes.

An Avro record's body is its fields' bodies one after another, so a record whose field holds a
record that arrived as Avro (intake's GenerationRequest carries the Lead it decoded) can be
written as [fields before] + the field's received body + [fields after], encoding only the
fields around it. The lead is about half of a request's encoding time (8 of 15 us, fastavro,
measured); the fields after it are mostly the same across a batch (tier, rule, campaign,
defaults), so their bytes are cached by value.

Only a body from ``AvroCodec.decode_keeping_body`` of the field's own current schema may be
spliced, and only while the decoded record is unchanged: the encoder checks the schema (once
a writer) and ``SplicingEncoder.encode`` falls back to a plain ``AvroCodec.encode`` whenever
it cannot splice, so the bytes always decode to the same record.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any, cast

import fastavro

from outreach.errors import SchemaError
from schemas.codec import AvroCodec, ParsedSchema
from schemas.lean import lean

# A segment's bytes are cached by its values: intake's request tail repeats per rule, campaign
# and millisecond (received_at, routed_at). Cleared when full rather than evicted one by one.
_CACHE_ENTRIES = 4096
_MISSING = object()


class _Segment:
    """A run of consecutive fields encoded on their own (a record of just them)."""

    def __init__(self, writer: ParsedSchema, index: int, fields: list[dict[str, Any]]):
        self.names = tuple(field["name"] for field in fields)
        self.missing = (_MISSING,) * len(self.names)  # record.get's default, name by name
        self.schema = lean(cast(dict[str, Any], fastavro.parse_schema(
            {"type": "record", "name": f"{writer.name}_splice_{index}", "fields": fields},
            named_schemas=dict(writer.parsed.get("__named_schemas", {})))))
        self.cache: dict[tuple[Any, ...], bytes] | None = {}
        self.lookups = self.hits = 0

    def encode(self, record: Mapping[str, Any]) -> bytes:
        values = None
        if self.cache is not None:
            values = tuple(map(record.get, self.names, self.missing))
            # With the types: 0, False and 0.0 are one dict key but not one union branch.
            values += tuple(map(type, values))
            try:
                data = self.cache.get(values)
            except TypeError:  # a list or dict value (withheld, rung_reasons): not cached
                values = data = None
            self.lookups += 1
            if data is not None:
                self.hits += 1
                return data
            if self.lookups >= 1024 and self.hits * 4 < self.lookups:
                self.cache = None  # values that never repeat (request_id): stop trying
        body = io.BytesIO()
        fastavro.schemaless_writer(body, self.schema, {name: record[name] for name in self.names
                                                       if name in record},
                                   strict_allow_default=True)
        data = body.getvalue()
        if self.cache is not None and values is not None:
            if len(self.cache) >= _CACHE_ENTRIES:
                self.cache.clear()
            self.cache[values] = data
        return data


class _Plan:
    """How to write one writer schema: its segments around the spliced field (None)."""

    def __init__(self, writer: ParsedSchema, segments: list[_Segment | None] | None):
        self.writer = writer  # held, so the id() it is filed under is not reused
        self.segments = segments
        self.fields = frozenset(field["name"] for field in writer.parsed["fields"])


class SplicingEncoder:
    """``AvroCodec.encode`` for records of ``name`` whose record-typed field ``field`` is often
    given as the Avro body it was decoded from."""

    def __init__(self, codec: AvroCodec, name: str, field: str):
        self.codec, self.name, self.field = codec, name, field
        self._plans: dict[int, _Plan] = {}

    def encode(self, record: Any, field_body: bytes | None, topic: str | None = None) -> bytes:
        """``record`` encoded as ``codec.encode(name, record, topic)`` would; ``field_body``:
        the body ``decode_keeping_body`` returned for ``record[field]`` (None: encode it)."""
        writer = self.codec.store.reader(self.name)
        plan = self._plans.get(id(writer))
        if plan is None:
            plan = self._plans[id(writer)] = _Plan(writer, self._segments(writer))
        # An unknown key makes the plain encode raise its SchemaError, as before.
        if field_body is None or plan.segments is None or not record.keys() <= plan.fields:
            return self.codec.encode(self.name, record, topic)  # type: ignore[call-overload]
        try:
            body = b"".join(field_body if segment is None else segment.encode(record)
                            for segment in plan.segments)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise SchemaError(f"{self.name} does not match its schema: {exc}") from exc
        return self.codec.frame(writer, body, topic or self.name)

    def _segments(self, writer: ParsedSchema) -> list[_Segment | None] | None:
        """The writer's fields as segments around the spliced field (None in the list), or
        None when the field's type is not exactly the current schema of its record."""
        fields = writer.parsed["fields"]
        names = [field["name"] for field in fields]
        if self.field not in names:
            return None
        index = names.index(self.field)
        kind = fields[index]["type"]
        embedded = (writer.parsed.get("__named_schemas", {}).get(kind) if isinstance(kind, str)
                    else kind)
        if not isinstance(embedded, dict) or embedded.get("type") != "record":
            return None
        try:
            current = self.codec.store.reader(embedded["name"].rpartition(".")[2]).parsed
        except SchemaError:
            return None
        if _definition(current) != _definition(embedded):
            return None  # the spliced bytes would be in another layout than the writer's
        segments: list[_Segment | None] = []
        if index:
            segments.append(_Segment(writer, 0, fields[:index]))
        segments.append(None)
        if index + 1 < len(fields):
            segments.append(_Segment(writer, 1, fields[index + 1:]))
        return segments


def _definition(schema: dict[str, Any]) -> dict[str, Any]:
    """A parsed record schema without fastavro's bookkeeping keys (__named_schemas...)."""
    return {key: value for key, value in schema.items() if not key.startswith("__")}
