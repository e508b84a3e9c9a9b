"""The faust-streaming application: one thin agent over `leads` and `leads.json`.

The agent decodes nothing itself: it takes the events that arrived together (up to
``kafka.intake_batch``, waiting at most ``kafka.intake_batch_wait_s``), hands their raw bytes to
``Intake.decide_many`` (one Redis round trip per batch) and sends what comes back, waiting for
the broker's acknowledgement of every output before the batch's events are acked, so Faust
commits an offset only after its output is durable (at-least-once). Built by
``make_app(settings)``; there is no module-level app.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time

import faust
from prometheus_client import Counter

from outreach.settings import Settings
from outreach.store import IntakeStore
from outreach.topics import LEADS, LEADS_JSON, TIERS, dlq, requests_topic
from streams.intake import Intake, RawRecord

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
        async for events in stream.take_events(settings.kafka.intake_batch,
                                               within=settings.kafka.intake_batch_wait_s):
            received_at_ms = int(time.time() * 1000)
            decisions = await deciding.decide_many([
                RawRecord(event.value, event.key, event.message.topic, event.message.partition,
                          event.message.offset, received_at_ms) for event in events])
            # Enqueue every output, then wait for all acknowledgements: Faust acks the batch's
            # events (and may commit their offsets) only when this loop asks for the next batch.
            deliveries = [await outputs[d.topic].send(key=d.key, value=d.value)
                          for d in decisions if d.topic is not None]
            await asyncio.gather(*deliveries)
            counts = collections.Counter(
                d.outcome if d.outcome != "routed" else f"routed_{d.tier}" for d in decisions)
            await store.count_many(counts)
            for event, decision in zip(events, decisions):
                if decision.outcome != "routed":
                    log.info("lead %s at %s[%d]@%d: %s", decision.outcome, event.message.topic,
                             event.message.partition, event.message.offset, decision.reason)
                LEADS_PROCESSED.labels(decision.outcome, decision.tier or "").inc()

    return app


def run_stream(settings: Settings, loglevel: str = "warning") -> None:
    """Run the intake worker until SIGINT/SIGTERM (Faust installs the signal handlers)."""
    app = make_app(settings)
    worker = faust.Worker(app, loglevel=loglevel, quiet=True)
    worker.execute_from_commandline()
