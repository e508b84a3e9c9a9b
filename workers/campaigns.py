"""Which campaign a GenerationRequest is written for, from the `campaigns` table in memory.

The request names the campaign id and the version intake routed it with. The worker uses that
exact version while it still holds it (an update published after routing does not change a draft
already on its way, so a draft and its request agree), else the newest version if that is newer
(a compacted topic may have dropped the old one). A version the table has not seen yet (the
operator published it a moment before the lead arrived, and intake read it first) is waited for
once, up to ``wait_s``; then the request is dead-lettered with the reason, never written for a
default product. A campaign whose newest version is retired takes no more drafts: retiring is the
operator's "stop", and the dead letters keep the leads for a replay.

Requests written before campaigns were data carry version 0: they get the newest version.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from outreach.campaign_log import CampaignLog
from outreach.errors import CampaignError
from outreach.settings import Settings
from schemas.campaign import Campaign
from schemas.codec import AvroCodec
from schemas.records import Campaign as CampaignRecord, GenerationRequest

# Parsed Campaign objects kept per process: one per (id, version) in use; a pydantic parse of a
# 30-fact brief takes ~0.2 ms, so this only saves work, it bounds nothing that matters.
PARSED_KEPT = 64


class CampaignResolver:
    """The Campaign of a request (CampaignError with code unknown_campaign / retired_campaign /
    invalid_campaign when there is none to write for)."""

    def __init__(self, table: CampaignLog[CampaignRecord], wait_s: float) -> None:
        self.table = table
        self.wait_s = wait_s
        self._parsed: OrderedDict[tuple[str, int], Campaign] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def open(cls, settings: Settings, codec: AvroCodec, wait_s: float,
             timeout_s: float = 30.0) -> CampaignResolver:
        """Read the `campaigns` topic up to its end and keep following it."""
        table = CampaignLog(settings, lambda raw: codec.decode(raw, "Campaign")).start(timeout_s)
        return cls(table, wait_s)

    def close(self) -> None:
        self.table.close()

    def resolve(self, request: GenerationRequest) -> Campaign:
        return self.version(request.get("campaign_id") or request["lead"]["campaign"],
                            int(request.get("campaign_version") or 0))

    def version(self, campaign_id: str, version: int) -> Campaign:
        """Version ``version`` of the campaign, 0 = the newest."""
        record = self.table.wait_for(campaign_id, max(version, 1), self.wait_s)
        newest = self.table.latest(campaign_id)
        if record is None or newest is None:
            if newest is None:
                raise CampaignError(f"campaign {campaign_id!r} is not on the campaigns topic",
                                    code="unknown_campaign")
            raise CampaignError(f"campaign {campaign_id!r} v{version} not seen within "
                                f"{self.wait_s:.1f} s (newest is v{newest['version']})",
                                code="unknown_campaign")
        if newest["status"] == "retired":
            raise CampaignError(f"campaign {campaign_id!r} was retired (v{newest['version']})",
                                code="retired_campaign")
        if version == 0:
            record = newest
        return self._parse(record)

    def _parse(self, record: CampaignRecord) -> Campaign:
        key = (record["campaign_id"], int(record["version"]))
        with self._lock:
            if key in self._parsed:
                self._parsed.move_to_end(key)
                return self._parsed[key]
        campaign = Campaign.from_record(record)  # CampaignError(invalid_campaign) if bad
        with self._lock:
            self._parsed[key] = campaign
            while len(self._parsed) > PARSED_KEPT:
                self._parsed.popitem(last=False)
        return campaign
