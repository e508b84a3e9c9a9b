"""Topic names: part of the contract with CRMs, mail senders and operators (design.md)."""

from __future__ import annotations

from outreach.settings import TIERS

CAMPAIGNS = "campaigns"  # compacted, key campaign_id: the latest version of each campaign
LEADS = "leads"
LEADS_JSON = "leads.json"
DRAFTS = "email.drafts"
ENGAGEMENT = "engagement.events"
FEEDBACK = "training.feedback"
MODEL_UPDATES = "model.updates"
AB_DECISIONS = "ab.decisions"  # champion/challenger decisions with their evidence
# Outcomes per lead for the CRM (key lead_id), read by Kafka Connect sinks (docs/crm-write-back.md)
CRM_UPDATES = "crm.updates"
# What the sending engine did that an operator must know: paused mailboxes and campaigns, moved
# queues (OperationsEvent, key = mailbox address or campaign id; docs/sending.md).
OPERATIONS = "sending.operations"


# Per-topic creation settings. `campaigns` is a table, not a stream: compaction keeps the latest
# record per campaign id forever, and one partition keeps every version of the table in order.
TOPIC_CONFIGS: dict[str, dict[str, str]] = {CAMPAIGNS: {"cleanup.policy": "compact"}}
TOPIC_PARTITIONS: dict[str, int] = {CAMPAIGNS: 1}


def requests_topic(tier: str) -> str:
    return f"email.requests.{tier}"


def dlq(topic: str) -> str:
    """Dead letters of ``topic``. Requests of every tier share dlq.email.requests."""
    if topic.startswith("email.requests."):
        topic = "email.requests"
    return f"dlq.{topic}"


def all_topics() -> list[str]:
    sources = [CAMPAIGNS, LEADS, LEADS_JSON, *[requests_topic(t) for t in TIERS], DRAFTS,
               ENGAGEMENT, FEEDBACK, MODEL_UPDATES, AB_DECISIONS, CRM_UPDATES, OPERATIONS]
    return sources + sorted({dlq(t) for t in sources})
