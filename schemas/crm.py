"""The crm.updates contract: the CrmUpdate record and a codec that knows it.

CrmUpdate is read by Kafka Connect sinks, not by the project's own stages, so it is kept out
of the codec's core record table: ``crm_codec`` is an AvroCodec whose store also holds
schemas/avro/crm_update.avsc (same wire format: single-object encoding, or Confluent framing
with a schema registry, which a Connect AvroConverter needs).
"""

from __future__ import annotations

from typing import Literal, TypedDict

from schemas.codec import AvroCodec, codec_with

CRM_UPDATE = "CrmUpdate"
CrmUpdateType = Literal["SENT", "REPLIED", "BOUNCED", "UNSUBSCRIBED", "COMPLAINED",
                        "MEETING_BOOKED", "SEQUENCE_FINISHED", "UNKNOWN"]


class CrmUpdate(TypedDict):
    event_id: str
    lead_id: str
    campaign_id: str
    email: str
    type: CrmUpdateType
    step: int
    draft_id: str
    reply_class: str
    reason: str
    source_event_id: str
    occurred_at: int


def crm_codec(registry_url: str | None = None) -> AvroCodec:
    """An AvroCodec for every project record plus CrmUpdate."""
    return codec_with("crm_update.avsc", CRM_UPDATE, registry_url)
