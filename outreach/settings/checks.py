"""Section ``checks``: the limits every draft check applies (generation/checks.py)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ChecksSettings(BaseModel):
    subject_max_chars: int = 90
    body_min_words: int = 25
    body_max_words: int = 220
    allowed_urls: list[str] = Field(default_factory=list,
                                    description="URL prefixes a draft may contain.")
    field_max_chars: int = Field(200, description="Each untrusted lead field is capped to this.")
