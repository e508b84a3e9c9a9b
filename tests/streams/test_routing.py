from outreach.settings import RoutingRule, RoutingSettings, load_settings
from streams.routing import build_request, choose_rule, matches

RULES = RoutingSettings(rules=[
    RoutingRule(name="strategic", tier="large", variant="b", min_deal_size=100_000,
                segments=["enterprise"]),
    RoutingRule(name="hot", tier="large", min_score=90, priorities=["high"]),
    RoutingRule(name="rest", tier="small"),
])


def lead(**kw):
    base = {"lead_id": "L1", "campaign": "c", "lead_score": 50, "deal_size": 10_000.0,
            "segment": "smb", "priority": "normal"}
    return base | kw


def test_first_matching_rule_wins():
    assert choose_rule(lead(segment="enterprise", deal_size=250_000.0), RULES).name == "strategic"
    assert choose_rule(lead(lead_score=95, priority="high"), RULES).name == "hot"
    assert choose_rule(lead(lead_score=95, priority="normal"), RULES).name == "rest"
    assert choose_rule(lead(segment="enterprise", deal_size=99_999.0), RULES).name == "rest"


def test_every_condition_must_hold():
    rule = RoutingRule(name="r", tier="small", min_score=10, max_score=20, max_deal_size=5.0)
    assert matches(rule, lead(lead_score=15, deal_size=5.0))
    assert not matches(rule, lead(lead_score=21, deal_size=5.0))
    assert not matches(rule, lead(lead_score=15, deal_size=6.0))


def test_request_is_deterministic_and_carries_tier_and_variant():
    rule = RULES.rules[0]
    topic, first = build_request(lead(), rule, received_at_ms=1, now_ms=2)
    _, again = build_request(lead(), rule, received_at_ms=5, now_ms=6)
    assert topic == "email.requests.large"
    assert first["request_id"] == again["request_id"]
    assert (first["tier"], first["variant"], first["rule"]) == ("large", "b", "strategic")
    _, retry = build_request(lead(), rule, 1, 2, attempt=1)
    assert retry["request_id"] != first["request_id"]


def test_shipped_settings_file_routes_to_declared_tiers():
    routing = load_settings().routing
    assert {r.tier for r in routing.rules} <= {"small", "large", "llm"}
    assert choose_rule(lead(lead_score=1), routing).tier == "small"
