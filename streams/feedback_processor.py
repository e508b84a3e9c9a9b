"""The feedback loop's per-record logic, independent of Faust (like streams/intake.py).

Inputs: GenerationRequest (leads for training examples), EmailDraft (the join's right side and
the "sent" KPI), EngagementEvent (the left side). Each call returns the records to publish
(FeedbackExamples, dead letters); the Faust app sends them and waits for the broker's ack
before the input's offset can be committed, and every Redis write is idempotent, so a
redelivery after a crash repeats no count and loses no output.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import redis
import redis.asyncio as aioredis
from prometheus_client import Counter

from outreach.errors import SchemaError, StoreError
from outreach.settings import Settings
from outreach.store import async_client
from outreach.topics import FEEDBACK, dlq
from schemas.codec import AvroCodec
from schemas.deadletter import dead_letter
from schemas.records import EngagementEvent, FeedbackExample
from streams.attribution import JoinStore, held_entry
from streams.engagement import SUPPRESSING, parse_event
from streams.feedback import DECISIVE, FeedbackState, lead_from_draft, outcome_example
from streams.kpi import Increment, KpiStore, tagged
from streams.synthetic import SELF_TEST, event_origin
from streams.replies import ReplyClassifier

log = logging.getLogger(__name__)
STAGE = "feedback"
EVENTS = Counter("outreach_feedback_records_total", "Records handled by the feedback loop",
                 ["kind", "outcome"])
EXAMPLES = Counter("outreach_feedback_examples_total", "FeedbackExamples published", ["kind"])
SUPPRESSIONS = Counter("outreach_feedback_suppressions_total", "Addresses suppressed", ["reason"])


@dataclass(frozen=True)
class Output:
    topic: str
    key: bytes | None
    value: bytes


@dataclass
class Result:
    """Records to publish, then clean-ups to run once the broker acknowledged all of them."""

    outputs: list[Output] = field(default_factory=list)
    after_ack: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    def extend(self, other: Result) -> Result:
        self.outputs += other.outputs
        self.after_ack += other.after_ack
        return self


class FeedbackProcessor:
    def __init__(self, settings: Settings, client: aioredis.Redis | None = None,
                 codec: AvroCodec | None = None) -> None:
        if not settings.redis_url and client is None:
            raise StoreError("REDIS_URL is not set and no embedded stack is running")
        self.settings = settings
        self.cfg = settings.feedback
        self.redis = client or async_client(settings.redis_url)
        self.codec = codec or AvroCodec(registry_url=settings.kafka.schema_registry_url)
        prefix = settings.redis.key_prefix
        self.join = JoinStore(self.redis, prefix, self.cfg.state_ttl_s)
        self.kpi = KpiStore(self.redis, prefix, self.cfg.kpi_window_s, self.cfg.kpi_windows_kept,
                            self.cfg.state_ttl_s)
        self.state = FeedbackState(self.redis, prefix, self.cfg)
        self.classifier = ReplyClassifier()

    # -- inputs ------------------------------------------------------------------------------
    async def on_request(self, raw: bytes | None) -> Result:
        try:
            request = self.codec.decode(raw or b"", "GenerationRequest")
        except SchemaError as exc:  # intake owns that topic's dead letters
            log.debug("skipping undecodable request: %s", exc)
            return Result()
        await self.join.put_lead(request["request_id"], request["lead"])
        return Result()

    async def on_draft(self, raw: bytes | None) -> Result:
        try:
            draft = self.codec.decode(raw or b"", "EmailDraft")
        except SchemaError as exc:  # the sender dead-letters bad drafts on dlq.email.drafts
            EVENTS.labels("draft", "undecodable").inc()
            log.warning("skipping undecodable draft: %s", exc)
            return Result()
        deadline = draft["created_at"] + int(self.cfg.outcome_window_s * 1000)
        new, held = await self.join.put_draft(draft, deadline)
        await self.kpi.count_once(f"draft:{draft['draft_id']}", "sent", draft,
                                  draft["created_at"], [Increment("", {
                                      "sent": 1, "cost_usd": draft["estimated_cost_usd"]})])
        EVENTS.labels("draft", "new" if new else "seen").inc()
        result = Result()
        summary = await self.join.get_draft(draft["draft_id"]) or draft
        for entry in held:
            EVENTS.labels("event", "released").inc()
            result.extend(await self.apply(entry["event"], summary))
        if held:
            result.after_ack.append(lambda: self.join.drop_held(draft["draft_id"]))
        return result

    async def on_event(self, raw: bytes | None, key: bytes | None, topic: str, partition: int,
                       offset: int) -> Result:
        try:
            event = parse_event(raw, self.codec)
        except SchemaError as exc:
            EVENTS.labels("event", "dead_lettered").inc()
            return Result([self._dead_letter(raw, key, topic, partition, offset, exc.code,
                                             str(exc))])
        # No suppression before the join: the event's address must match the draft it names
        # (apply), or anyone able to post an event could suppress any address.
        now = int(time.time() * 1000)
        entry = held_entry(event, raw, topic, partition, offset, key, now)
        draft = await self.join.hold_or_get(event["draft_id"], entry,
                                            now + int(self.cfg.hold_window_s * 1000))
        if draft is None:
            EVENTS.labels("event", "held").inc()
            return Result()
        return await self.apply(event, draft)

    # -- the join's result -------------------------------------------------------------------
    async def apply(self, event: EngagementEvent, draft: Mapping[str, Any]) -> Result:
        kind = event["type"]
        increments = [Increment("", {"events": 1}), Increment(kind, {kind.lower(): 1})]
        label = None
        if kind == "REPLIED":
            label = self.classifier.classify(event.get("reply_text")).label
            increments.append(Increment(f"reply:{label}", {f"reply_{label}": 1}))
            if label == "interested":
                increments.append(Increment("POSITIVE", {"positive_reply": 1}))
            if label == "unsubscribe_request":  # counts as the draft's unsubscribe, once
                increments.append(Increment("UNSUBSCRIBED", {"unsubscribed": 1}))
        if kind in SUPPRESSING or label == "unsubscribe_request":
            named = (event.get("email") or "").strip().lower()
            if named and named != draft["to_email"].strip().lower():
                SUPPRESSIONS.labels("address_mismatch").inc()
                log.warning("event %s names draft %s but another address: nothing suppressed",
                            event["event_id"], draft["draft_id"])
            else:
                await self.suppress(draft["to_email"], label or kind.lower())
        # Synthetic events count apart (prefixed fields and flags): decisions leave them out.
        origin = await event_origin(self.redis, self.settings.redis.key_prefix, event)
        counted = await self.kpi.count_once(f"evt:{event['event_id']}", kind, draft,
                                            event["occurred_at"], tagged(increments, origin))
        if not counted:
            EVENTS.labels("event", "duplicate").inc()
            return Result()
        EVENTS.labels("event", "attributed" if not origin else origin).inc()
        if origin != SELF_TEST and (label or kind.lower()) in DECISIVE:
            return await self.finalize(draft, force=True)
        return Result()

    async def finalize(self, draft: Mapping[str, Any], force: bool) -> Result:
        """The draft's OUTCOME example (and maybe a preference pair), once per lease."""
        now = int(time.time() * 1000)
        if not await self.state.claim_final(draft["draft_id"], now, force):
            return Result()
        lead = await self.join.get_lead(draft["request_id"]) or lead_from_draft(draft)
        labels = await self.state.labels(draft["draft_id"])
        example = outcome_example(draft, lead, labels, self.cfg, now)
        outputs = [self._example(example)]
        pair = await self.state.pair(example, lead)
        if pair is not None:
            outputs.append(self._example(pair))
        return Result(outputs, [lambda: self.state.done_final(draft["draft_id"])])

    async def suppress(self, email: str, reason: str) -> None:
        try:
            added = await self.redis.sadd(self.settings.redis.suppression_key,
                                          email.strip().lower())
        except redis.RedisError as exc:
            raise StoreError(f"cannot suppress an address: {exc}") from exc
        if added:
            SUPPRESSIONS.labels(reason).inc()
            log.info("suppressed an address after %s", reason)

    # -- timers ------------------------------------------------------------------------------
    async def sweep_held(self, now_ms: int | None = None) -> Result:
        """Dead letters for events whose draft did not come within the hold window."""
        now_ms = now_ms or int(time.time() * 1000)
        result = Result()
        for draft_id, entries in await self.join.take_expired(now_ms):
            for entry in entries:
                EVENTS.labels("event", "expired").inc()
                reason = (f"no draft {draft_id} within {self.cfg.hold_window_s:g} s "
                          f"(held since {entry['held_at']})")
                result.outputs.append(self._dead_letter(
                    entry["raw"], entry["key"], entry["topic"], entry["partition"],
                    entry["offset"], "draft_not_found", reason))
            result.after_ack.append(lambda d=draft_id: self.join.drop_expired(d))
        return result

    async def sweep_outcomes(self, now_ms: int | None = None) -> Result:
        """OUTCOME examples for drafts whose outcome window ended without a decisive event."""
        now_ms = now_ms or int(time.time() * 1000)
        result = Result()
        for draft_id in await self.state.due(now_ms):
            draft = await self.join.get_draft(draft_id)
            if draft is None:  # expired from Redis: nothing left to learn from
                await self.state.done_final(draft_id)
                continue
            result.extend(await self.finalize(draft, force=False))
        return result

    # -- encoding ----------------------------------------------------------------------------
    def _example(self, example: FeedbackExample) -> Output:
        EXAMPLES.labels(example["kind"].lower()).inc()
        return Output(FEEDBACK, example["draft_id"].encode(),
                      self.codec.encode("FeedbackExample", example, topic=FEEDBACK))

    def _dead_letter(self, raw: bytes | None, key: bytes | None, topic: str, partition: int,
                     offset: int, code: str, reason: str) -> Output:
        letter = dead_letter(source_topic=topic, partition=partition, offset=offset, key=key,
                             value=raw, error_type=code, error=reason, stage=STAGE)
        log.warning("dead-lettering %s[%d]@%d: %s (%s)", topic, partition, offset, code, reason)
        return Output(dlq(topic), key, self.codec.encode("DeadLetter", letter, topic=dlq(topic)))

    async def close(self) -> None:
        await self.redis.aclose()
