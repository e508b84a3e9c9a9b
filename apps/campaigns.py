"""Operators' campaign actions on the compacted `campaigns` topic: add (a new version), retire,
list and show. The CLI (apps/campaign_cli.py), the demo and the tests call these.

Versions: the topic is the source of truth, so a publish first reads the table (from the
beginning, no consumer group) and gives the brief the next version of its id; a retire is one
more version with status "retired" (not a tombstone: drafts and KPIs keep naming the campaign,
and a worker still holding a request of an earlier version can tell "retired" from "unknown").
Two operators publishing the same id in the same second could both take version n+1: the later
record wins on the compacted topic; serialize publishes per campaign where that matters.
"""

from __future__ import annotations

import time
from pathlib import Path

from outreach.campaign_log import CampaignLog
from outreach.errors import CampaignError
from outreach.kafka import make_producer, produce_sync
from outreach.settings import Settings
from outreach.topics import CAMPAIGNS
from schemas.campaign import Campaign, load_campaign
from schemas.codec import AvroCodec
from schemas.records import Campaign as CampaignRecord


def _codec(settings: Settings) -> AvroCodec:
    return AvroCodec(registry_url=settings.kafka.schema_registry_url)


def open_log(settings: Settings, codec: AvroCodec | None = None,
             timeout_s: float = 30.0) -> CampaignLog[CampaignRecord]:
    """A started CampaignLog (caught up with the topic); close it after use."""
    codec = codec or _codec(settings)
    return CampaignLog(settings, lambda raw: codec.decode(raw, "Campaign")).start(timeout_s)


def read_campaigns(settings: Settings) -> dict[str, CampaignRecord]:
    """The newest version of every campaign on the topic, by id."""
    table = open_log(settings)
    try:
        return table.campaigns()
    finally:
        table.close()


def _publish(settings: Settings, campaign: Campaign, codec: AvroCodec) -> Campaign:
    producer = make_producer(settings)
    produce_sync(producer, CAMPAIGNS, codec.encode("Campaign", campaign.to_record(),
                                                   topic=CAMPAIGNS), key=campaign.campaign_id)
    return campaign


def publish_campaign(settings: Settings, campaign: Campaign) -> Campaign:
    """Publish ``campaign`` as the next version of its id (its own version if that is higher)
    and wait for the broker's acknowledgement; returns what was published."""
    codec = _codec(settings)
    table = open_log(settings, codec)
    try:
        current = table.latest(campaign.campaign_id)
    finally:
        table.close()
    version = campaign.version if current is None else max(campaign.version,
                                                           int(current["version"]) + 1)
    stamped = campaign.model_copy(update={"version": version, "status": "active",
                                          "updated_at": int(time.time() * 1000)})
    return _publish(settings, stamped, codec)


def add_campaign(settings: Settings, path: Path | str) -> Campaign:
    """Validate the YAML brief at ``path`` (CampaignError names every bad field) and publish it."""
    return publish_campaign(settings, load_campaign(path))


def publish_as(settings: Settings, path: Path | str, campaign_id: str) -> Campaign:
    """Publish the brief at ``path`` under another id (benchmarks and demos that need a fresh
    campaign per run, so their leads are never de-duplicated against an earlier run's)."""
    return publish_campaign(settings, load_campaign(path).model_copy(
        update={"campaign_id": campaign_id}))


def retire_campaign(settings: Settings, campaign_id: str) -> Campaign:
    """Publish a retired version of ``campaign_id``; CampaignError if the topic lacks it."""
    codec = _codec(settings)
    table = open_log(settings, codec)
    try:
        current = table.latest(campaign_id)
    finally:
        table.close()
    if current is None:
        raise CampaignError(f"no campaign {campaign_id!r} on the {CAMPAIGNS} topic",
                            code="unknown_campaign")
    campaign = Campaign.from_record(current)
    retired = campaign.model_copy(update={"version": campaign.version + 1, "status": "retired",
                                          "updated_at": int(time.time() * 1000)})
    return _publish(settings, retired, codec)
