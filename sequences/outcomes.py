"""crm.updates records: one per outcome, with an event id derived from what it reports.

Ids: SENT from the draft id; REPLIED, BOUNCED, UNSUBSCRIBED, COMPLAINED and MEETING_BOOKED
from the engagement event id (an ESP that retries a webhook repeats its event id);
SEQUENCE_FINISHED from the sequence (lead + campaign), which finishes once. A redelivered
input therefore yields the same ids, and a sink that upserts by event id applies each once.
"""

from __future__ import annotations

from typing import Any

from outreach.ids import crm_event_id
from schemas.crm import CrmUpdate, CrmUpdateType
from schemas.records import EmailDraft, EngagementEvent

# Engagement type -> CRM type (DELIVERED/OPENED are not CRM outcomes; CLICKED only on a
# meeting link).
FROM_ENGAGEMENT: dict[str, CrmUpdateType] = {
    "REPLIED": "REPLIED", "BOUNCED": "BOUNCED", "UNSUBSCRIBED": "UNSUBSCRIBED",
    "COMPLAINED": "COMPLAINED"}


def update(kind: CrmUpdateType, source: str, *, lead_id: str, campaign_id: str, email: str,
           occurred_at: int, step: int = 0, draft_id: str = "", reply_class: str = "",
           reason: str = "", source_event_id: str = "") -> CrmUpdate:
    return {"event_id": crm_event_id(kind, source), "lead_id": lead_id,
            "campaign_id": campaign_id, "email": email, "type": kind, "step": step,
            "draft_id": draft_id, "reply_class": reply_class, "reason": reason,
            "source_event_id": source_event_id, "occurred_at": occurred_at}


def sent(draft: EmailDraft, step: int) -> CrmUpdate:
    return update("SENT", draft["draft_id"], lead_id=draft["lead_id"],
                  campaign_id=draft["campaign"], email=draft["to_email"], step=step,
                  draft_id=draft["draft_id"], source_event_id=draft["draft_id"],
                  occurred_at=int(draft["created_at"]))


def engagement(kind: CrmUpdateType, event: EngagementEvent, seq: dict[str, str],
               reply_class: str = "") -> CrmUpdate:
    return update(kind, event["event_id"], lead_id=seq["lead_id"], campaign_id=seq["campaign"],
                  email=seq.get("email", ""), draft_id=event["draft_id"],
                  step=int(seq.get("step") or 0), reply_class=reply_class,
                  source_event_id=event["event_id"], occurred_at=int(event["occurred_at"]))


def finished(seq: dict[str, str], reason: str, source: str, occurred_at: int) -> CrmUpdate:
    return update("SEQUENCE_FINISHED", f"{seq['campaign']}\x1f{seq['lead_id']}",
                  lead_id=seq["lead_id"], campaign_id=seq["campaign"],
                  email=seq.get("email", ""), step=int(seq.get("step") or 0), reason=reason,
                  source_event_id=source, occurred_at=occurred_at)
