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
    todo = [{key: value for key, value in parsed.items() if key != "__named_schemas"}]
    while todo:
        for text in _strings(todo.pop()):
            if text in named and text not in keep:
                keep[text] = named[text]
                todo.append(named[text])
    return {**parsed, "__named_schemas": keep}


def _strings(value: Any) -> Iterator[str]:
    """Every string in a schema (type names among them), at any depth."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
