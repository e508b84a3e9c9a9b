"""Helpers for the mail tests: real drafts in, dead letters out, a bounded sender run."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition

from outreach.kafka import consumer_config, make_producer, produce_sync
from mail import EmlWriter, SenderStats, run_sender
from outreach.settings import Settings
from outreach.topics import DRAFTS, dlq
from schemas.codec import AvroCodec

CODEC = AvroCodec()
RUN_TIMEOUT_S = 30.0  # a run needs ~3 s to join the group on the embedded broker (measured)


def start_at_end(settings: Settings) -> Settings:
    """Commit the current end of email.drafts for the sender group of ``settings``.

    The broker is shared by the whole session, so a new sender group would read every draft
    that earlier tests produced; starting at the end isolates each test's records.
    """
    consumer = Consumer(consumer_config(settings, f"{settings.kafka.group_prefix}-sender"))
    try:
        partitions = consumer.list_topics(DRAFTS, timeout=10).topics[DRAFTS].partitions
        ends = [TopicPartition(DRAFTS, p, consumer.get_watermark_offsets(
            TopicPartition(DRAFTS, p), timeout=10)[1]) for p in partitions]
        consumer.commit(offsets=ends, asynchronous=False)
    finally:
        consumer.close()
    return settings


def make_draft(campaign: str, n: int, **fields: Any) -> dict[str, Any]:
    draft = {
        "draft_id": f"drf-{campaign}-{n}", "request_id": f"req-{campaign}-{n}",
        "lead_id": f"lead-{n}", "campaign": campaign, "to_email": f"lead{n}@{campaign}.example",
        "to_name": f"Lead Number{n}", "company": "Acme GmbH",
        "subject": f"Idea for Acme #{n}", "body": f"Hi Lead,\n\nbody {n} for {campaign}.\n",
        "tier": "small", "variant": "miniature-a", "model_id": "gemma3-270m-q4_k_m.gguf",
        "model_sha256": "ab" * 32, "model_version": "v3", "prompt_hash": "cd" * 32,
        "prompt_tokens": 120, "completion_tokens": 80, "attempts": 1, "latency_ms": 812.5,
        "lead_to_draft_ms": 1500.0, "estimated_cost_usd": 0.00001,
        "created_at": 1_767_225_600_000}
    draft.update(fields)
    return draft


def produce(settings: Settings, *records: dict[str, Any] | bytes) -> None:
    """Produce drafts (dicts, Avro-encoded) or raw bytes to email.drafts, keyed by draft_id."""
    producer = make_producer(settings)
    for record in records:
        if isinstance(record, bytes):
            produce_sync(producer, DRAFTS, record, key=b"raw")
        else:
            produce_sync(producer, DRAFTS, CODEC.encode("EmailDraft", record),
                         key=record["draft_id"])


def run_bounded(settings: Settings, max_messages: int | None = None,
                stop: threading.Event | None = None, **kwargs: Any) -> SenderStats:
    """run_sender in a thread; fails the test instead of hanging when it does not finish."""
    stop = stop or threading.Event()
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["stats"] = run_sender(settings, stop=stop, max_messages=max_messages, **kwargs)
        except BaseException as exc:  # handed to the test thread below
            result["error"] = exc

    thread = threading.Thread(target=target, name="sender-under-test")
    thread.start()
    thread.join(RUN_TIMEOUT_S)
    if thread.is_alive():
        stop.set()
        thread.join(10)
        pytest.fail(f"run_sender did not settle {max_messages} records in {RUN_TIMEOUT_S} s")
    if "error" in result:
        raise result["error"]
    return result["stats"]


def dead_letters(settings: Settings, timeout_s: float = 10.0) -> list[dict[str, Any]]:
    """Every record on dlq.email.drafts so far, decoded (assign + EOF: no group join)."""
    topic = dlq(DRAFTS)
    consumer = Consumer(consumer_config(settings, f"dlq-reader-{uuid.uuid4().hex[:8]}",
                                        **{"enable.partition.eof": True}))
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        letters, at_eof = [], set()
        deadline = time.monotonic() + timeout_s
        while len(at_eof) < len(partitions) and time.monotonic() < deadline:
            record = consumer.poll(0.2)
            if record is None:
                continue
            if record.error():
                at_eof.add(record.partition())
                continue
            letters.append(CODEC.decode(record.value(), "DeadLetter"))
        return letters
    finally:
        consumer.close()


class ScriptedSink(EmlWriter):
    """The real .eml writer, answering 451 to the first ``defer_data`` DATA commands and 550
    to recipients whose local part is ``reject_local`` (what real servers say in those cases)."""

    def __init__(self, folder: Path, defer_data: int = 0, reject_local: str | None = None) -> None:
        super().__init__(folder)
        self.defer_data = defer_data
        self.reject_local = reject_local
        self.deferred = 0

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if self.reject_local and address.partition("@")[0] == self.reject_local:
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.deferred < self.defer_data:
            self.deferred += 1
            return "451 4.3.0 Try again later"
        return await super().handle_DATA(server, session, envelope)
