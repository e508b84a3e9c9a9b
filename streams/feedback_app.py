"""The feedback faust app: engagement intake, attribution, KPIs, examples, A/B evaluation.

A separate app from lead intake (its own consumer group, ``<group_prefix>-feedback``) so the two
scale and fail independently. One agent reads email.requests.*, email.drafts and
engagement.events as raw bytes and hands them to ``FeedbackProcessor``; outputs are sent and
acknowledged before the record's offset can be committed, then the processor's clean-ups run.
Timers expire held events, close outcome windows and evaluate the A/B test.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import faust
from prometheus_client import start_http_server

from outreach.errors import OutreachError, StoreError
from outreach.kafka import ensure_topics
from outreach.settings import Settings
from outreach.topics import AB_DECISIONS, DRAFTS, ENGAGEMENT, FEEDBACK, TIERS, dlq, requests_topic
from streams.ab_evaluator import ABEvaluator
from streams.faust_app import faust_app
from streams.feedback_processor import FeedbackProcessor, Result

log = logging.getLogger(__name__)
RETRY_MAX_S = 30.0  # a Redis outage backs off to one try per 30 s instead of spinning


def make_feedback_app(settings: Settings) -> faust.App:
    app = faust_app(settings, "feedback")
    request_topics = [requests_topic(t) for t in TIERS]
    source = app.topic(*request_topics, DRAFTS, ENGAGEMENT, key_serializer="raw",
                       value_serializer="raw")
    outputs = {name: app.topic(name, key_serializer="raw", value_serializer="raw")
               for name in (FEEDBACK, dlq(ENGAGEMENT), AB_DECISIONS)}
    state: dict[str, Any] = {}

    def processor() -> FeedbackProcessor:
        if "processor" not in state:
            state["processor"] = FeedbackProcessor(settings)
            proc: FeedbackProcessor = state["processor"]
            state["ab"] = ABEvaluator(settings, proc.redis, proc.kpi, proc.codec)
        return state["processor"]

    async def publish(result: Result) -> None:
        for out in result.outputs:
            await (await outputs[out.topic].send(key=out.key, value=out.value))
        for clean_up in result.after_ack:
            await clean_up()

    async def with_retry(what: str, step) -> None:  # noqa: ANN001 - a coroutine factory
        delay = 0.5
        while True:
            try:
                await publish(await step())
                return
            except StoreError as exc:  # Redis hiccup: retry the same record, never skip it
                log.warning("%s failed, retrying in %.1f s: %s", what, delay, exc)
                await asyncio.sleep(delay)
                delay = min(RETRY_MAX_S, delay * 2)

    @app.agent(source)
    async def feedback(stream):  # noqa: ANN001 - Faust's stream type
        proc = processor()
        async for event in stream.events():
            msg = event.message
            if msg.topic == ENGAGEMENT:
                step = lambda: proc.on_event(event.value, event.key, msg.topic,  # noqa: E731
                                             msg.partition, msg.offset)
            elif msg.topic == DRAFTS:
                step = lambda: proc.on_draft(event.value)  # noqa: E731
            else:
                step = lambda: proc.on_request(event.value)  # noqa: E731
            await with_retry(f"{msg.topic}[{msg.partition}]@{msg.offset}", step)

    @app.timer(settings.feedback.expiry_check_interval_s)
    async def sweep() -> None:
        proc = processor()
        try:
            await publish(await proc.sweep_held())
            await publish(await proc.sweep_outcomes())
        except OutreachError as exc:  # the next tick retries; leases make that safe
            log.warning("feedback sweep failed: %s", exc)

    @app.timer(settings.abtest.evaluate_interval_s)
    async def evaluate_ab() -> None:
        if not settings.abtest.enabled:
            return
        processor()
        try:
            _, records = await state["ab"].run_once(int(time.time() * 1000))
            for topic, key, value in records:
                await (await outputs[topic].send(key=key, value=value))
        except OutreachError as exc:
            log.warning("A/B evaluation failed: %s", exc)

    return app


def feedback_main(settings: Settings, loglevel: str = "warning") -> None:
    """Run the feedback worker until SIGINT/SIGTERM (``outreach feedback``)."""
    ensure_topics(settings, [AB_DECISIONS])
    if settings.feedback.metrics_port:
        start_http_server(settings.feedback.metrics_port, addr=settings.metrics_host)
        log.info("Prometheus metrics on :%d/metrics", settings.feedback.metrics_port)
    worker = faust.Worker(make_feedback_app(settings), loglevel=loglevel, quiet=True)
    worker.execute_from_commandline()

