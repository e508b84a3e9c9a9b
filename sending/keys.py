"""What every module of the sending engine shares: its Redis key prefix and a decoder."""

from __future__ import annotations

from typing import Any

from outreach.settings import Settings


def prefix(settings: Settings) -> str:
    return f"{settings.redis.key_prefix}:send"


def text(value: Any) -> str:
    """A Redis reply (bytes) as str."""
    return value.decode() if isinstance(value, bytes) else str(value)


def steps_sent_key(key_prefix: str, sequence: str) -> str:
    """Hash step -> epoch ms it went out, per sequence: a follow-up's clock (sending/engine.py)."""
    return f"{key_prefix}:steps-sent:{sequence}"
