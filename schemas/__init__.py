"""Avro contracts for every topic (the .avsc files in avro/) and their codecs."""

from schemas.codec import AvroCodec, SchemaStore, RECORD_NAMES

__all__ = ["AvroCodec", "SchemaStore", "RECORD_NAMES"]
