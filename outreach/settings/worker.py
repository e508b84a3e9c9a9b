"""Sections ``worker`` and ``campaigns``: the generation worker and the campaign table it reads."""

from __future__ import annotations

from pydantic import BaseModel, Field

from outreach.settings.common import Tier


class WorkerSettings(BaseModel):
    tier: Tier = "small"
    poll_timeout_s: float = 0.5
    # 4, not 2: on 144 drafts of 12 held-out campaigns (world seed 7301) the served miniature
    # passed 60% on the first try; two attempts sent 84% without a person, four sent 95.8%
    # (docs/results/2026-12-07-quality.md). Only a rejected draft pays for the extra attempts.
    max_attempts: int = Field(4, ge=1, description="First try + retries, each with another "
                              "seed (the retries under the retry grammar).")
    grammar_on_retry: bool = True
    # Cost model for drafts: $/vCPU-hour times the CPU-seconds the draft used.
    usd_per_vcpu_hour: float = 0.04
    metrics_port: int | None = None
    # A batched engine refills a finished sequence's slot at its next decode step only when a
    # request already waits in its queue; otherwise the slot stays empty while the request's
    # checks, publish, commit and the next poll run (issue 27: mean width 12.8 of 16).
    queue_depth: int = Field(16, ge=0, description="Requests a batched worker takes beyond "
                             "its engine's model.batch_slots, waiting in the engine's queue so "
                             "that every free slot is refilled at once (uncommitted meanwhile).")
    follow_releases: bool = Field(True, description="Follow model.updates and the release "
                                  "pointers in Redis: hot-reload new releases of this tier.")


class CampaignSettings(BaseModel):
    """The `campaigns` table that intake and workers keep in memory (outreach/campaign_log.py)."""

    intake_sync_s: float = Field(2.0, gt=0, description=(
        "A batch naming a campaign the table lacks waits this long for the table to catch up "
        "with the topic before the lead is dead-lettered (unknown_campaign)."))
    worker_wait_s: float = Field(5.0, gt=0, description=(
        "A worker waits this long for a campaign version it has not seen yet before it "
        "dead-letters the request (unknown_campaign)."))
    start_timeout_s: float = Field(30.0, gt=0, description="Initial catch-up with the topic.")
