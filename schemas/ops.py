"""The sending.operations contract: the OperationsEvent record and a codec that knows it.

Operators (the dashboard's banner, an alerting consumer) read these; no stage of the pipeline
does, so, like CrmUpdate, it stays out of the codec's core record table.
"""

from __future__ import annotations

from typing import Literal, Optional, TypedDict

from schemas.codec import AvroCodec, codec_with

OPERATIONS_EVENT = "OperationsEvent"
OpsKind = Literal["mailbox_paused", "mailbox_resumed", "campaign_paused", "campaign_resumed",
                  "queue_moved"]


class OperationsEvent(TypedDict):
    event_id: str
    kind: OpsKind
    scope: Literal["mailbox", "campaign"]
    name: str
    reason: str
    rate: Optional[float]
    count: Optional[int]
    occurred_at: int


def ops_codec(registry_url: str | None = None) -> AvroCodec:
    """An AvroCodec for every project record plus OperationsEvent."""
    return codec_with("operations_event.avsc", OPERATIONS_EVENT, registry_url)
