"""The faust-streaming application: one thin agent over `leads` and `leads.json`.

The agent decodes nothing itself: it takes the events that arrived together (up to
``kafka.intake_batch``, waiting at most ``kafka.intake_batch_wait_s``), hands their raw bytes to
``Intake.decide_many`` (one Redis round trip per batch) and sends what comes back, waiting for
the broker's acknowledgement of every output before the batch's events are acked, so Faust
commits an offset only after its output is durable (at-least-once). Built by
``make_app(settings)``; there is no module-level app.
"""

from __future__ import annotations

import collections
import logging
import time

import faust
from prometheus_client import Counter

from outreach.errors import StoreError
from outreach.settings import Settings
from outreach.store import IntakeStore
from outreach.topics import LEADS, LEADS_JSON, TIERS, dlq, requests_topic
from streams.faust_app import faust_app
from streams.intake import Intake, RawRecord
from streams.intake_batch import decide_and_send

log = logging.getLogger(__name__)

LEADS_PROCESSED = Counter("outreach_intake_leads_total", "Lead records processed by outcome",
                          ["outcome", "tier"])


def make_app(settings: Settings) -> faust.App:
    app = faust_app(settings, "intake")
    source = app.topic(LEADS, LEADS_JSON, key_serializer="raw", value_serializer="raw")
    outputs = {name: app.topic(name, key_serializer="raw", value_serializer="raw")
               for name in [*(requests_topic(t) for t in TIERS), dlq(LEADS), dlq(LEADS_JSON)]}
    state: dict[str, object] = {}

    @app.agent(source)
    async def intake(stream):  # noqa: ANN001 - Faust's stream type
        if "intake" not in state:
            state["store"] = IntakeStore(settings)
            state["intake"] = Intake(settings, state["store"])
            # Read the `campaigns` table up to its end before the first lead is decided.
            await state["intake"].open_campaigns()  # type: ignore[attr-defined]
        deciding: Intake = state["intake"]  # type: ignore[assignment]
        store: IntakeStore = state["store"]  # type: ignore[assignment]
        async for events in stream.take_events(settings.kafka.intake_batch,
                                               within=settings.kafka.intake_batch_wait_s):
            received_at_ms = int(time.time() * 1000)
            # Decide, enqueue every output and wait for all acknowledgements, retrying the whole
            # batch on an outage (streams/intake_batch): Faust acks the batch's events (and may
            # commit their offsets) only when this loop asks for the next batch.
            decisions = (await decide_and_send(deciding, [
                RawRecord(event.value, event.key, event.message.topic, event.message.partition,
                          event.message.offset, received_at_ms) for event in events],
                lambda d: outputs[d.topic].send(key=d.key, value=d.value))).decisions
            counts = collections.Counter(
                d.outcome if d.outcome != "routed" else f"routed_{d.tier}" for d in decisions)
            try:
                await store.count_many(counts)
            except StoreError as exc:  # counters only: the outputs are already acknowledged
                log.warning("intake counters not updated: %s", exc)
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
