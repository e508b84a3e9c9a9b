"""What every module of the sending engine shares: its Redis key prefix and a decoder."""

from __future__ import annotations

from typing import Any

from outreach.settings import Settings


def prefix(settings: Settings) -> str:
    return f"{settings.redis.key_prefix}:send"


def text(value: Any) -> str:
    """A Redis reply (bytes) as str."""
    return value.decode() if isinstance(value, bytes) else str(value)
