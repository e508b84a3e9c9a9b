"""`outreach demo --feedback`: the engagement side of the demo, started inside its Services.

``extend_demo(services, settings)`` starts more children next to intake, workers and the
sender: the feedback app, the dashboard (webhook, one-click unsubscribe, /metrics) and, with
``simulator``, the engagement SIMULATOR (the plain demo runs the first two only, so its
one-click links work end to end).
``wait_for_feedback(settings, drafts, deadline)`` then waits until every draft has been
attributed and its simulated engagement counted, and returns a ``FeedbackSummary`` whose
``table()`` the demo prints (KPIs per variant, A/B state, examples on training.feedback).
"""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Consumer
from rich.table import Table

from outreach.kafka import consumer_config
from apps.pipeline import Services
from outreach.settings import FeedbackSettings, Settings
from outreach.store import async_client
from outreach.topics import FEEDBACK
from schemas.codec import AvroCodec
from streams.ab_evaluator import load_ab_state
from engagement.ab_tables import arm_rows
from streams.kpi import KpiStore, effective, rates
from streams.synthetic import SIMULATED

# Demo-sized windows, used unless the settings file changed them: outcomes close 15 s after a
# draft (not 72 h), KPI windows are 10 s so the plots move, the A/B test re-evaluates every 5 s.
DEMO_ENV = {"OUTREACH_FEEDBACK__OUTCOME_WINDOW_S": ("outcome_window_s", "15"),
            "OUTREACH_FEEDBACK__KPI_WINDOW_S": ("kpi_window_s", "10"),
            "OUTREACH_FEEDBACK__EXPIRY_CHECK_INTERVAL_S": ("expiry_check_interval_s", "1")}


@dataclass
class FeedbackSummary:
    dashboard_url: str = ""
    kpis: dict[str, dict[str, Any]] = field(default_factory=dict)
    ab_state: dict[str, Any] = field(default_factory=dict)
    examples: dict[str, int] = field(default_factory=dict)  # kind -> count
    variants: list[dict[str, Any]] = field(default_factory=list)  # abtest.variants, dumped
    complete: bool = False

    def table(self) -> Table:
        """Per arm: intention to treat (what decides) beside per-writer figures, escalations
        on their own lines (engagement/ab_tables.py); synthetic counts said in the title."""
        table = Table(title=f"engagement feedback (SIMULATED engagement, counted; the one-click "
                            f"self-test is not) - dashboard {self.dashboard_url}")
        table.add_column("arm", no_wrap=True, min_width=12)  # never cut to "llm-baseli…"
        for column in ("figures", "written by", "sent", "open", "reply", "positive reply",
                       "unsubscribe", "$ / positive reply"):
            table.add_column(column, justify="right")
        for arm in arm_rows(self.kpis, self.variants):
            lines = [("intention to treat", "any rung", arm["itt"]),
                     ("per writer", arm["own_writer"], arm["per_writer"]),
                     *(("escalated", rung, c) for rung, c in arm["escalated"].items())]
            for figures, writer, counts in lines:
                r = rates(counts)
                cost = r["cost_per_positive_reply_usd"]
                table.add_row(arm["arm"], figures, writer, str(int(counts.get("sent", 0))),
                              _pct(r["open_rate"]), _pct(r["reply_rate"]),
                              _pct(r["positive_reply_rate"]), _pct(r["unsubscribe_rate"]),
                              "-" if cost is None else f"${cost:.4f}")
        state = self.ab_state
        evidence = "; ".join(f"{name}: {ev['action']} (p={_num(ev.get('p_value'))}, "
                             f"P(beat)={_num(ev.get('prob_beat'))})"
                             for name, ev in state.get("evidence", {}).items())
        table.caption = (f"A/B champion {state.get('champion')} ({state.get('allocation')}); "
                         f"{evidence or 'not evaluated'}; decisions use intention to treat. "
                         f"FeedbackExamples on {FEEDBACK}: {self.examples or 'none yet'}")
        return table


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _num(value: float | None) -> str:
    return "- (too few sends)" if value is None else f"{value:.3f}"


def extend_demo(services: Services, settings: Settings, simulator: bool = True) -> str:
    """Start the feedback app, the dashboard and (``simulator``) the simulator; returns the
    dashboard URL. The port is the settings' (apps/one_click.py picked a free one)."""
    defaults = FeedbackSettings()
    for env, (name, value) in DEMO_ENV.items():
        if getattr(settings.feedback, name) == getattr(defaults, name):
            services.extra_env.setdefault(env, value)
    if simulator:  # the simulator is all the engagement the demo has: its A/B counts it
        services.extra_env.setdefault("OUTREACH_ABTEST__INCLUDE_SIMULATED", "true")
    services.start("feedback")
    if simulator:
        services.start("simulate", name="simulator")
    # The dashboard is the operator app (login), one port above the public app; this run's
    # token (shared with the approvals app when it runs) goes into the link the demo prints.
    token = services.extra_env.setdefault("OUTREACH_TRAINING__REVIEW__TOKEN",
                                          secrets.token_urlsafe(16))
    services.start("dashboard")
    return f"http://127.0.0.1:{settings.dashboard.port + 1}/?token={token}"


async def _read_state(settings: Settings) -> tuple[dict[str, Any], dict[str, Any]]:
    client = async_client(settings.redis_url)
    try:
        kpi = KpiStore(client, settings.redis.key_prefix, settings.feedback.kpi_window_s,
                       settings.feedback.kpi_windows_kept, settings.feedback.state_ttl_s)
        totals = await kpi.totals()
        state = await load_ab_state(client, settings.redis.key_prefix, settings.abtest)
        # The demo's engagement is all simulated: counted (as its A/B decisions do), the
        # self-test never.
        counts = {dim: effective(c, (SIMULATED,)) for dim, c in totals.items()}
        return ({dim: {"counts": c, "rates": rates(c)} for dim, c in counts.items()},
                state.__dict__)
    finally:
        await client.aclose()


def wait_for_feedback(settings: Settings, drafts: int, deadline: float,
                      dashboard_url: str = "", services: Services | None = None,
                      variants: list[str] | None = None) -> FeedbackSummary:
    """Wait (until ``deadline``, time.monotonic) for ``drafts`` drafts to be counted and their
    outcome examples published; returns what was reached either way. ``variants`` limits the
    count to those arms (other runs may share the topics)."""
    summary = FeedbackSummary(dashboard_url=dashboard_url,
                              variants=[v.model_dump() for v in settings.abtest.variants])
    codec = AvroCodec(registry_url=settings.kafka.schema_registry_url)
    consumer = Consumer(consumer_config(settings, f"demo-feedback-{uuid.uuid4().hex[:6]}"))
    consumer.subscribe([FEEDBACK])
    outcomes: set[str] = set()
    try:
        while time.monotonic() < deadline:
            if services is not None:
                services.check_alive()
            for msg in consumer.consume(500, timeout=0.5):
                if msg.error():
                    continue
                example = codec.decode(msg.value(), "FeedbackExample")
                if variants is not None and example["variant"] not in variants:
                    continue
                summary.examples[example["kind"]] = summary.examples.get(example["kind"], 0) + 1
                if example["kind"] == "OUTCOME":
                    outcomes.add(example["draft_id"])
            summary.kpis, summary.ab_state = asyncio.run(_read_state(settings))
            dims = ["all"] if variants is None else [f"variant:{v}" for v in variants]
            sent = sum(summary.kpis.get(d, {}).get("counts", {}).get("sent", 0) for d in dims)
            if sent >= drafts and len(outcomes) >= drafts:
                summary.complete = True
                break
    finally:
        consumer.close()
    return summary
