"""Routing: pick the tier and variant for a lead from the rules in the settings file.

Rules are evaluated in order and the first whose every set condition holds wins, like a
firewall table; an operator reads the YAML top to bottom to know where a lead goes.
"""

from __future__ import annotations

from outreach.ids import request_id
from outreach.settings import RoutingRule, RoutingSettings
from outreach.topics import requests_topic
from schemas.records import GenerationRequest, Lead


def matches(rule: RoutingRule, lead: Lead) -> bool:
    score, deal = lead.get("lead_score", 0), lead.get("deal_size", 0.0)
    # One chain that stops at the first failed condition (intake routes every lead).
    return ((rule.min_score is None or score >= rule.min_score)
            and (rule.max_score is None or score <= rule.max_score)
            and (rule.min_deal_size is None or deal >= rule.min_deal_size)
            and (rule.max_deal_size is None or deal <= rule.max_deal_size)
            and (rule.segments is None or lead.get("segment") in rule.segments)
            and (rule.priorities is None or lead.get("priority") in rule.priorities))


def choose_rule(lead: Lead, routing: RoutingSettings) -> RoutingRule:
    for rule in routing.rules:
        if matches(rule, lead):
            return rule
    # The last rule is the catch-all by convention; a table without one still routes.
    return routing.rules[-1]


def build_request(lead: Lead, rule: RoutingRule, received_at_ms: int,
                  now_ms: int, attempt: int = 0,
                  campaign_version: int = 0) -> tuple[str, GenerationRequest]:
    """Return (topic, GenerationRequest dict) for a routed lead; ``campaign_version`` is the
    version of the lead's campaign that intake found active (the worker writes with it)."""
    request: GenerationRequest = {
        "request_id": request_id(lead["lead_id"], lead["campaign"], attempt),
        "lead": lead,
        "tier": rule.tier,
        "variant": rule.variant,
        "rule": rule.name,
        "attempt": attempt,
        "received_at": received_at_ms,
        "routed_at": now_ms,
        "campaign_id": lead["campaign"],
        "campaign_version": campaign_version,
    }
    return requests_topic(rule.tier), request
