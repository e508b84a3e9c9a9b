"""Section ``redis``: de-duplication windows, claims and key names."""

from __future__ import annotations

from pydantic import BaseModel, Field


class RedisSettings(BaseModel):
    dedupe_window_s: int = Field(7 * 24 * 3600, ge=1, description="A lead_id+campaign seen "
                                 "within this window is dropped.")
    draft_dedupe_ttl_s: int = Field(30 * 24 * 3600, ge=1)
    # Longer than one SMTP exchange (30 s timeout) so a live sender never loses its claim;
    # short enough that a crashed sender's draft is retried within two minutes.
    pending_claim_ttl_s: int = Field(120, ge=1)
    suppression_key: str = "outreach:suppression"
    key_prefix: str = "outreach"
