"""The faust-streaming application: one thin agent over `leads` and `leads.json`.

The agent decodes nothing itself: it hands raw bytes to ``Intake.decide`` and sends what comes
back, waiting for the broker's acknowledgement before the event is acked, so Faust commits an
offset only after its output is durable (at-least-once). Built by ``make_app(settings)``; there
is no module-level app.
"""

from __future__ import annotations

import logging
import time

import faust
from prometheus_client import Counter

from outreach.settings import Settings
from outreach.store import IntakeStore
from outreach.topics import LEADS, LEADS_JSON, TIERS, dlq, requests_topic
from streams.intake import Intake

log = logging.getLogger(__name__)

LEADS_PROCESSED = Counter("outreach_intake_leads_total", "Lead records processed by outcome",
                          ["outcome", "tier"])


def make_app(settings: Settings) -> faust.App:
    bootstrap = settings.kafka_bootstrap_servers
    app = faust.App(
        f"{settings.kafka.group_prefix}-intake",
        broker=[f"kafka://{server}" for server in bootstrap.split(",")],
        store="memory://",
        web_enabled=False,
        topic_partitions=settings.kafka.partitions,
        consumer_auto_offset_reset="earliest",
        # Group joins on the embedded broker: 31 s to the first message with Faust's defaults,
        # 4 s with these (measured); harmless on a real cluster.
        broker_session_timeout=settings.kafka.session_timeout_ms / 1000,
        broker_heartbeat_interval=settings.kafka.heartbeat_interval_ms / 1000,
        broker_rebalance_timeout=10.0,
        broker_commit_interval=1.0,
    )
    source = app.topic(LEADS, LEADS_JSON, key_serializer="raw", value_serializer="raw")
    outputs = {name: app.topic(name, key_serializer="raw", value_serializer="raw")
               for name in [*(requests_topic(t) for t in TIERS), dlq(LEADS), dlq(LEADS_JSON)]}
    state: dict[str, object] = {}

    @app.agent(source)
    async def intake(stream):  # noqa: ANN001 - Faust's stream type
        if "intake" not in state:
            state["store"] = IntakeStore(settings)
            state["intake"] = Intake(settings, state["store"])
        deciding: Intake = state["intake"]  # type: ignore[assignment]
        store: IntakeStore = state["store"]  # type: ignore[assignment]
        async for event in stream.events():
            msg = event.message
            decision = await deciding.decide(event.value, event.key, msg.topic, msg.partition,
                                              msg.offset, received_at_ms=int(time.time() * 1000))
            if decision.topic is not None:
                delivered = await outputs[decision.topic].send(key=decision.key,
                                                               value=decision.value)
                await delivered  # broker ack before this event's offset can be committed
            if decision.outcome != "routed":
                log.info("lead %s at %s[%d]@%d: %s", decision.outcome, msg.topic, msg.partition,
                         msg.offset, decision.reason)
            await store.count(decision.outcome if decision.outcome != "routed"
                              else f"routed_{decision.tier}")
            LEADS_PROCESSED.labels(decision.outcome, decision.tier or "").inc()

    return app


def run_stream(settings: Settings, loglevel: str = "warning") -> None:
    """Run the intake worker until SIGINT/SIGTERM (Faust installs the signal handlers)."""
    app = make_app(settings)
    worker = faust.Worker(app, loglevel=loglevel, quiet=True)
    worker.execute_from_commandline()
