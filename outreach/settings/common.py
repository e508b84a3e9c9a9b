"""Names every settings section shares: the tiers and the quantization types."""

from __future__ import annotations

from typing import Literal, get_args

Tier = Literal["small", "large", "llm"]
TIERS: tuple[str, ...] = get_args(Tier)  # the one list of tiers (topics.py uses it too)
QuantType = Literal["Q4_K_M", "Q5_K_M", "Q8_0"]
