"""Stand-ins around the real scheduler for the sequence tests, all over the real broker + Redis:

- a stand-in worker: every request on email.requests.small becomes an EmailDraft on
  email.drafts, with the draft id a real worker would give it (derived from the request id),
  the step and thread copied (generation/followup.draft_fields) and the subject kept;
- played by the same stand-in, the simulated audience: the engagement events a plan says a
  lead sends at a step (sometimes twice, as ESPs retry webhooks);
- a topic reader that returns every record of this test's campaigns.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from generation.followup import draft_fields, thread_subject
from outreach.ids import draft_id as make_draft_id
from outreach.ids import step_request_id
from outreach.kafka import consumer_config, make_producer
from outreach.settings import Settings
from outreach.topics import DRAFTS, ENGAGEMENT, requests_topic
from schemas.codec import AvroCodec

CODEC = AvroCodec()


def lead(lead_id: str, campaign: str, email: str) -> dict[str, Any]:
    return {"lead_id": lead_id, "campaign": campaign, "email": email, "first_name": "Ana",
            "company": "Acme", "created_at": 1_767_225_600_000}


def first_request(the_lead: dict[str, Any]) -> dict[str, Any]:
    """What intake routes for a lead: step 1."""
    now = int(time.time() * 1000)
    return {"request_id": step_request_id(the_lead["lead_id"], the_lead["campaign"], 1),
            "lead": the_lead, "tier": "small", "variant": "miniature-a", "rule": "default",
            "attempt": 0, "received_at": now, "routed_at": now,
            "campaign_id": the_lead["campaign"], "campaign_version": 1}


def draft_for(request: dict[str, Any]) -> dict[str, Any]:
    the_lead = request["lead"]
    step = int(request.get("step") or 1)
    subject = thread_subject(request, f"Idea for {the_lead['company']}")
    return {
        "draft_id": make_draft_id(request["request_id"], "stand-in", "0" * 64),
        "request_id": request["request_id"], "lead_id": the_lead["lead_id"],
        "campaign": the_lead["campaign"], "to_email": the_lead["email"], "to_name": "Ana",
        "company": the_lead["company"], "subject": subject,
        "body": f"Hi Ana,\n\nstep {step} for {the_lead['campaign']}.\n\nBest,\nPriya",
        "tier": request["tier"], "variant": request["variant"], "model_id": "stand-in",
        "model_sha256": "0" * 64, "prompt_hash": "0" * 64, "prompt_tokens": 1,
        "completion_tokens": 1, "latency_ms": 1.0, "lead_to_draft_ms": 1.0,
        "estimated_cost_usd": 0.0, "created_at": int(time.time() * 1000),
        **draft_fields(request)}


def produce(settings: Settings, topic: str, name: str, records: list[dict[str, Any]],
            key: str) -> None:
    producer = make_producer(settings)
    for record in records:
        producer.produce(topic, value=CODEC.encode(name, record, topic=topic),  # type: ignore
                         key=record[key] if key in record else record["lead"]["lead_id"])
    assert producer.flush(30) == 0


class Loop(threading.Thread):
    """A consumer thread over ``topics`` calling ``handle(topic, value)`` for each record."""

    def __init__(self, settings: Settings, topics: list[str]) -> None:
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.settings = settings
        self.consumer = Consumer(consumer_config(
            settings, f"{settings.kafka.group_prefix}-{uuid.uuid4().hex[:6]}",
            **{"enable.auto.commit": True}))
        self.consumer.subscribe(topics)
        self.producer = make_producer(settings)
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                for msg in self.consumer.consume(200, timeout=0.2):
                    if not msg.error():
                        self.handle(msg.topic(), msg.value())
                self.producer.flush(10)
        except BaseException as exc:  # reported by the test, not swallowed
            self.error = exc
        finally:
            self.consumer.close()

    def handle(self, topic: str, value: bytes) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self.stop.set()
        self.join(15)
        assert self.error is None, self.error


class StandInWorker(Loop):
    """email.requests.small -> email.drafts for the campaigns in ``campaigns``; with a
    ``plan`` (``plan[lead_id] = [(step, type, reply_text)]``) it also plays the audience: the
    engagement events a lead sends at that step follow the draft in the same flush (every
    ``dup_every``-th twice, as ESPs retry webhooks: the same event id). So a reply is on its
    topic before the next step falls due (a business day is 0.5 s or more), however loaded the
    machine: a separate audience thread answered 1 s or more after the draft when the load
    was high, after the step it was meant to stop was due."""

    def __init__(self, settings: Settings, campaigns: set[str],
                 plan: dict[str, list[tuple[int, str, str]]] | None = None,
                 dup_every: int = 4) -> None:
        super().__init__(settings, [requests_topic("small")])
        self.campaigns = campaigns
        self.plan = plan or {}
        self.dup_every = dup_every
        self.sent_events: list[dict[str, Any]] = []
        self.seen: set[str] = set()

    def handle(self, topic: str, value: bytes) -> None:
        request = CODEC.decode(value, "GenerationRequest")
        if request["lead"]["campaign"] not in self.campaigns:
            return
        draft = draft_for(request)
        self.producer.produce(DRAFTS, value=CODEC.encode("EmailDraft", draft),  # type: ignore
                              key=draft["draft_id"])
        if draft["draft_id"] not in self.seen:  # a redelivered request: its events were sent
            self.seen.add(draft["draft_id"])
            self.react(draft)

    def react(self, draft: dict[str, Any]) -> None:
        for step, etype, text in self.plan.get(draft["lead_id"], []):
            if step != int(draft["step"]):
                continue
            event = {"event_id": f"ev-{draft['draft_id']}-{etype}", "draft_id": draft["draft_id"],
                     "type": etype, "email": draft["to_email"], "reply_text": text or None,
                     "url": None, "source": "simulator",
                     "occurred_at": int(time.time() * 1000)}
            self.sent_events.append(event)
            copies = 2 if len(self.sent_events) % self.dup_every == 0 else 1
            for _ in range(copies):
                self.producer.produce(ENGAGEMENT,  # type: ignore
                                      value=CODEC.encode("EngagementEvent", event),
                                      key=draft["draft_id"])


def read_topic(settings: Settings, topic: str, name: str, keep: Any,
               codec: AvroCodec = CODEC) -> list[dict[str, Any]]:
    """Every record of ``topic`` (from the start) that ``keep(record)`` accepts."""
    consumer = Consumer(consumer_config(settings, f"reader-{uuid.uuid4().hex[:8]}"))
    try:
        meta = consumer.list_topics(topic, timeout=10).topics[topic]
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                for p in meta.partitions}
        consumer.assign([TopicPartition(topic, p, 0) for p in meta.partitions])
        found: list[dict[str, Any]] = []
        done = {p for p, end in ends.items() if end == 0}
        deadline = time.monotonic() + 30
        while len(done) < len(ends) and time.monotonic() < deadline:
            for msg in consumer.consume(500, timeout=0.5):
                if msg.error():
                    continue
                record = codec.decode(msg.value(), name)
                if keep(record):
                    found.append(record)
                if msg.offset() + 1 >= ends[msg.partition()]:
                    done.add(msg.partition())
        return found
    finally:
        consumer.close()
