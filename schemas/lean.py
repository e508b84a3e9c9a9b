"""Derived copies of fastavro's parsed schemas, for the codec's fast paths (schemas/codec.py,
schemas/splice.py). Each is made once a schema, never on a record's path."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def without_logical_types(value: Any) -> Any:
    """A copy of a parsed schema (named types included) without its ``logicalType`` keys: the
    same binary layout, each timestamp-millis read and written as its underlying long."""
    if isinstance(value, dict):
        return {key: without_logical_types(item) for key, item in value.items()
                if key != "logicalType"}
    if isinstance(value, list):
        return [without_logical_types(item) for item in value]
    return value


def lean(parsed: dict[str, Any]) -> dict[str, Any]:
    """``parsed`` with only the named types it refers to left in ``__named_schemas``.

    fastavro copies that dict into its lookup on every read and write, and the project's
    schemas share one dict of all 15 named types, so a Lead read copied 15 entries it never
    used (0.4 of 7 us a read, measured).
    """
    named = parsed.get("__named_schemas")
    if not named:
        return parsed
    keep: dict[str, Any] = {}
    todo = [parsed]
    while todo:
        for name in _type_names(todo.pop()):
            if name in named and name not in keep:
                keep[name] = named[name]
                todo.append(named[name])
    return {**parsed, "__named_schemas": keep}


def _type_names(schema: Any) -> Iterator[str]:
    """The type names ``schema`` uses (primitive and named), records' fields included."""
    if isinstance(schema, str):
        yield schema
    elif isinstance(schema, list):  # a union
        for branch in schema:
            yield from _type_names(branch)
    elif isinstance(schema, dict):
        kind = schema.get("type")
        if kind in ("record", "error"):
            for field in schema["fields"]:
                yield from _type_names(field["type"])
        elif kind == "array":
            yield from _type_names(schema["items"])
        elif kind == "map":
            yield from _type_names(schema["values"])
        else:  # a primitive with attributes, enum, fixed, or {"type": <a schema>}
            yield from _type_names(kind)
