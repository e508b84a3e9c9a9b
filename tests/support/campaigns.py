"""Campaigns for integration tests: an example brief published under a test's own id.

Intake and workers write only for campaigns on the `campaigns` topic, so every test that sends
leads through them first publishes the campaign its leads name (tests use unique campaign ids
so their dedupe keys never collide).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from apps.campaigns import publish_campaign
from outreach.settings import Settings
from schemas.campaign import Campaign, load_campaign

EXAMPLES = Path(__file__).resolve().parents[2] / "campaigns" / "examples"
LEDGERLINE = EXAMPLES / "ledgerline-ap.yaml"
PATCHWELL = EXAMPLES / "patchwell-security.yaml"


def example_campaign(campaign_id: str, brief: Path = LEDGERLINE, **changes: Any) -> Campaign:
    return load_campaign(brief).model_copy(update={"campaign_id": campaign_id, **changes})


def publish_example(settings: Settings, campaign_id: str, brief: Path = LEDGERLINE,
                    **changes: Any) -> Campaign:
    """Publish the example ``brief`` as ``campaign_id`` (acknowledged); returns what was sent."""
    return publish_campaign(settings, example_campaign(campaign_id, brief, **changes))
