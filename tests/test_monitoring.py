"""The `monitoring` profile: Prometheus scrapes every service that serves /metrics, and every
metric the provisioned Grafana dashboard queries is exported by some service (no empty panel
from a typo or a renamed metric)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY, generate_latest

from test_compose import compose  # noqa: F401 - the resolved docker-compose config fixture

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = ROOT / "monitoring/grafana/dashboards/outreach.json"
PROMETHEUS = ROOT / "monitoring/prometheus.yml"
METRIC = re.compile(r"\boutreach_[a-z0-9_]+")
# PromQL functions and label names are not metrics; everything matching METRIC in an expr is.


def _queried() -> set[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert exprs
    return {name for expr in exprs for name in METRIC.findall(expr)}


def _exported(settings) -> set[str]:
    """Every metric family the services register, and the operator gauges of the dashboard."""
    import engagement.webhook  # noqa: F401 - webhook counters
    import mail.sender  # noqa: F401
    import streams.ab_evaluator  # noqa: F401
    import streams.feedback_processor  # noqa: F401
    import workers.ladder_metrics  # noqa: F401
    import workers.metrics  # noqa: F401
    from engagement.operator import OperatorCollector, OperatorView

    text = generate_latest(REGISTRY).decode()
    names = set(re.findall(r"^# TYPE (\S+) ", text, re.M))
    names |= {n + "_total" for n in names}  # counters are scraped as <name>_total
    # The operator gauges, from a real view over the test stack (real Redis and broker).
    families = list(OperatorCollector(OperatorView(settings, None)).collect())
    assert families, "the operator collector yielded nothing"
    names |= {f.name for f in families}
    return names


def test_every_queried_metric_is_exported(settings):
    missing = _queried() - _exported(settings)
    assert not missing, f"the Grafana dashboard queries metrics no service exports: {missing}"


def test_monitoring_profile_and_scrape_targets(compose):  # noqa: F811
    services = compose["services"]
    assert services["prometheus"]["profiles"] == ["monitoring"]
    assert services["grafana"]["profiles"] == ["monitoring"]
    assert services["grafana"]["depends_on"]["prometheus"]["condition"] == "service_healthy"
    config = yaml.safe_load(PROMETHEUS.read_text())
    targets = set()
    for job in config["scrape_configs"]:
        for static in job.get("static_configs", []):
            targets |= set(static["targets"])
        for dns in job.get("dns_sd_configs", []):
            targets |= {f"{name}:{dns['port']}" for name in dns["names"]}
    # Every service that serves /metrics is scraped on the port it serves.
    ports = {"OUTREACH_WORKER__METRICS_PORT", "OUTREACH_SENDER__METRICS_PORT",
             "OUTREACH_FEEDBACK__METRICS_PORT"}
    expected = {f"{name}:{service['environment'][key]}" for name, service in services.items()
                for key in ports & set(service.get("environment") or {})}
    # The dashboard's gauges are on its operator app (login), with the token compose passes.
    dashboard = services["dashboard"]["environment"]
    expected.add(f"dashboard:{dashboard['OUTREACH_DASHBOARD__OPERATOR_PORT']}")
    job = next(j for j in config["scrape_configs"] if j["job_name"] == "dashboard")
    assert job["authorization"]["type"] == "Bearer"
    assert expected <= targets, expected - targets
    provisioning = ROOT / "monitoring/grafana/provisioning"
    assert yaml.safe_load((provisioning / "datasources/prometheus.yml").read_text())[
        "datasources"][0]["url"] == "http://prometheus:9090"
