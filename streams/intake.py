"""Lead intake: decode, validate, de-duplicate, check suppression, route.

Everything here is independent of Faust so it can be tested and benchmarked alone; the Faust
agent (streams/app.py) only feeds it raw records and sends what it decides.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any, Literal

from outreach.deadletter import dead_letter
from outreach.errors import SchemaError
from outreach.settings import Settings
from outreach.store import IntakeStore
from outreach.topics import LEADS_JSON, dlq
from schemas.codec import AvroCodec
from streams.ab_evaluator import ABStateCache
from streams.abtest import apply_variant
from streams.routing import build_request, choose_rule

# Deliberately simple: one "@", a dot in the domain, no spaces. Full RFC 5322 validation
# accepts addresses no mail sender will deliver to; the bounce loop catches the rest.
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
SEGMENTS_HINT = "smb, mid_market, enterprise"

Outcome = Literal["routed", "dead_lettered", "duplicate", "suppressed"]


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    topic: str | None = None  # where to send, for routed and dead_lettered
    key: bytes | None = None
    value: bytes | None = None
    reason: str | None = None
    tier: str | None = None


def validate_lead(lead: dict[str, Any]) -> None:
    """Business rules the Avro schema cannot express; raises SchemaError with the reason."""
    problems = []
    for name in ("lead_id", "campaign", "first_name", "company"):
        if not str(lead.get(name) or "").strip():
            problems.append(f"{name} is empty")
    if not EMAIL_RE.match(lead.get("email") or ""):
        problems.append(f"email {lead.get('email')!r} is not an address")
    if not 0 <= lead.get("lead_score", 0) <= 100:
        problems.append(f"lead_score {lead.get('lead_score')} outside 0..100")
    if lead.get("deal_size", 0.0) < 0:
        problems.append("deal_size is negative")
    if problems:
        raise SchemaError("; ".join(problems), code="invalid_lead")


def parse_lead(raw: bytes | None, topic: str, codec: AvroCodec) -> dict[str, Any]:
    """Raw Kafka value -> validated Lead dict (Avro on `leads`, JSON on `leads.json`)."""
    if raw is None:
        raise SchemaError("record has no value (tombstone)", code="empty")
    lead = codec.from_json(raw, "Lead") if topic == LEADS_JSON else codec.decode(raw, "Lead")
    validate_lead(lead)
    return lead


class Intake:
    """Turns one raw lead record into a Decision; holds the codec and the Redis client."""

    def __init__(self, settings: Settings, store: IntakeStore, codec: AvroCodec | None = None):
        self.settings = settings
        self.store = store
        self.codec = codec or AvroCodec(registry_url=settings.kafka.schema_registry_url)
        # A/B arms (variant, maybe tier) override the rule's; off unless abtest.enabled.
        self.ab_cache = (ABStateCache(store.client, settings.redis.key_prefix, settings.abtest)
                         if settings.abtest.enabled else None)

    async def decide(self, raw: bytes | None, key: bytes | None, topic: str, partition: int,
                     offset: int, received_at_ms: int | None = None) -> Decision:
        received_at_ms = received_at_ms or int(time.time() * 1000)
        try:
            lead = parse_lead(raw, topic, self.codec)
        except SchemaError as exc:
            letter = dead_letter(source_topic=topic, partition=partition, offset=offset, key=key,
                                 value=raw, error_type=exc.code, error=str(exc), stage="intake")
            return Decision("dead_lettered", dlq(topic), key,
                            self.codec.encode("DeadLetter", letter, topic=dlq(topic)), str(exc))
        suppressed, duplicate = await self.store.check(
            lead["lead_id"], lead["campaign"], lead["email"], claim=f"{topic}:{partition}:{offset}")
        if suppressed:
            return Decision("suppressed", reason=f"{lead['email']} is on the suppression list")
        if duplicate:
            return Decision("duplicate", reason=f"{lead['lead_id']}/{lead['campaign']} seen "
                            f"within {self.settings.redis.dedupe_window_s} s")
        rule = choose_rule(lead, self.settings.routing)
        if self.ab_cache is not None:
            rule = apply_variant(rule, lead, self.settings.abtest, await self.ab_cache.get())
        out_topic, request = build_request(lead, rule, received_at_ms, int(time.time() * 1000))
        value = self.codec.encode("GenerationRequest", request, topic=out_topic)
        return Decision("routed", out_topic, lead["lead_id"].encode(), value, tier=rule.tier)
