"""What the scheduler does with one record or one due step: Redis transitions, then the
outputs they imply (follow-up requests, crm.updates), returned rather than produced, so the
loop can produce a whole batch, wait for the acknowledgements and only then commit.

Every handler is replayable: a record redelivered after a crash runs its transition again,
which Redis answers from the state it left (``dup``, or the stored list of an event's stops),
and yields the same outputs with the same ids; the outbox (state.already_out) drops the ones
the broker already acknowledged.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from outreach.ids import step_request_id
from outreach.settings import Settings
from outreach.topics import CRM_UPDATES, requests_topic
from schemas.campaign import Step
from schemas.crm import CRM_UPDATE, CrmUpdate
from schemas.records import DeadLetter, EmailDraft, EngagementEvent, GenerationRequest, Lead
from sequences import outcomes
from sequences.cap import ContactCap
from sequences.clock import Clock, add_business_days
from sequences.state import ACTIVE, STOPPED, SequenceStore, digest, lead_of, thread_ids
from streams.replies import ReplyClassifier

log = logging.getLogger(__name__)

StepsOf = Callable[[str], tuple[Step, ...]]  # campaign id -> its steps (one step if unknown)


@dataclass(frozen=True)
class Output:
    output_id: str  # the outbox key: a request id or a crm event id
    topic: str
    key: str
    value: bytes


class Handlers:
    def __init__(self, settings: Settings, store: SequenceStore, cap: ContactCap, clock: Clock,
                 steps_of: StepsOf, codec: Any) -> None:
        self.cfg = settings.sequences
        self.store = store
        self.cap = cap
        self.clock = clock
        self.steps_of = steps_of
        self.codec = codec
        self.classifier = ReplyClassifier()

    # -- email.requests.*: remember the lead of a step-1 request --------------------------------
    def on_request(self, request: GenerationRequest) -> list[Output]:
        if int(request.get("step") or 1) > 1:
            return []  # our own follow-up requests
        lead = request["lead"]
        self.store.remember_lead(lead["lead_id"], lead["campaign"], json.dumps(lead, default=str))
        return []

    # -- email.drafts: a step was written; schedule the next or finish -------------------------
    def step_of(self, draft: EmailDraft, n_steps: int) -> int:
        if int(draft.get("step") or 1) > 1:
            return int(draft["step"])
        for step in range(2, n_steps + 1):  # drafts from workers that do not copy the step
            if draft["request_id"] == step_request_id(draft["lead_id"], draft["campaign"], step):
                return step
        return 1

    def on_draft(self, draft: EmailDraft) -> list[Output]:
        steps = self.steps_of(draft["campaign"]) or (Step(delay_business_days=0),)
        step = self.step_of(draft, len(steps))
        written_ms = self.clock.virtual(int(draft["created_at"]))  # deterministic on replay
        delay = steps[step].delay_business_days if step < len(steps) else 0
        due_ms = add_business_days(written_ms, delay, self.cfg.business_days)
        result = self.store.on_draft(draft, step, len(steps), due_ms, "")
        outputs = []
        if result.status != STOPPED or result.outcome not in ("stopped", "inactive"):
            outputs.append(self._crm(outcomes.sent(draft, step)))
        if result.status != ACTIVE:
            seq = self.store.sequence(digest(draft["lead_id"], draft["campaign"]))
            outputs.append(self._crm(outcomes.finished(seq, result.reason, draft["draft_id"],
                                                       written_ms)))
        for raw in self.store.parked(draft["draft_id"]):  # events that beat their draft
            outputs += self.on_event(self.codec.decode(raw, "EngagementEvent"), raw)
        self.store.unpark(draft["draft_id"])
        return outputs

    # -- engagement.events: outcomes for the CRM; a stop ends the sequence(s) -------------------
    def on_event(self, event: EngagementEvent, raw: bytes) -> list[Output]:
        d = self.store.sequence_of_draft(event["draft_id"])
        if d is None:
            self.store.park(event["draft_id"], raw)
            return []
        seq = self.store.sequence(d)
        kind, reply_class, stop_reason = self._classify(event)
        if kind is None:
            return []
        outputs = [self._crm(outcomes.engagement(kind, event, seq, reply_class))]
        if kind == "REPLIED":
            self.store.count_reply(event["event_id"], seq["campaign"], int(seq.get("step") or 0),
                                   auto=reply_class in self.cfg.reply_classes_that_continue)
        if stop_reason:
            email = event.get("email") or seq.get("email", "")
            for stopped in self.store.on_stop(event["event_id"], d, email, stop_reason,
                                              seq["campaign"]):
                other = self.store.sequence(stopped)
                outputs.append(self._crm(outcomes.finished(
                    other, other.get("reason", stop_reason), event["event_id"],
                    int(event["occurred_at"]))))
        return outputs

    # -- dlq.email.requests: a follow-up no rung could write ends its sequence -----------------
    def on_dead_letter(self, letter: DeadLetter) -> list[Output]:
        d = self.store.sequence_of_request(letter["request_id"] or "")
        if d is None:
            return []  # not a follow-up of ours (a first email's letter is intake's business)
        seq = self.store.sequence(d)
        stopped = self.store.on_stop(f"dlq:{letter['request_id']}", d, seq.get("email", ""),
                                     "step_not_written", seq["campaign"], cross=False)
        return [self._crm(outcomes.finished(self.store.sequence(x), "step_not_written",
                                            letter["request_id"] or "",
                                            int(letter["failed_at"]))) for x in stopped]

    def _classify(self, event: EngagementEvent) -> tuple[Any, str, str]:
        """(CRM type or None, reply class, stop reason or '')."""
        etype = event["type"]
        if etype == "CLICKED":
            url = event.get("url") or ""
            if any(url.startswith(prefix) for prefix in self.cfg.meeting_url_prefixes):
                return "MEETING_BOOKED", "", "meeting_booked"
            return None, "", ""
        kind = outcomes.FROM_ENGAGEMENT.get(etype)
        if kind is None:
            return None, "", ""
        reply_class = ""
        stops = etype in self.cfg.stop_on
        if etype == "REPLIED":
            reply_class = self.classifier.classify(event.get("reply_text")).label
            stops = stops and reply_class not in self.cfg.reply_classes_that_continue
        return kind, reply_class, (etype.lower() if stops else "")

    # -- the timer: request follow-ups that are due -------------------------------------------
    def due_requests(self, due_by_ms: int | None = None, limit: int = 200
                     ) -> list[tuple[str, int, Output | None]]:
        """(sequence, step, request output or None when postponed/finished) for the steps due
        by ``due_by_ms`` (default now: the scheduler passes the time up to which it has read
        engagement.events, sequences/read_mark.py).

        The caller produces the outputs, then calls ``store.mark_requested`` for each."""
        now = self.clock.now_ms()
        found: list[tuple[str, int, Output | None]] = []
        for d in self.store.take_due(min(now, due_by_ms if due_by_ms is not None else now),
                                     limit):
            seq = self.store.sequence(d)
            step = int(seq.get("next_step") or 0)
            if seq.get("status") != ACTIVE or step < 2:
                found.append((d, step, None))
                continue
            previous = thread_ids(seq)[-1:]
            deferred = self.store.deferred_until(previous[0]) if previous else None
            if deferred is not None:  # the previous step waits for the cap: keep the spacing
                steps = self.steps_of(seq["campaign"])
                delay = steps[step - 1].delay_business_days if step - 1 < len(steps) else 1
                self.store.postpone(d, add_business_days(deferred, delay,
                                                         self.cfg.business_days))
                continue
            request_id = step_request_id(seq["lead_id"], seq["campaign"], step)
            self.store.remember_request(request_id, d)
            # Peek only: the slot is taken when the sender decides to send (sequences/gate.py).
            decision = self.cap.reserve(seq["email"], request_id, now, reserve=False)
            if not decision.allowed:
                self.store.postpone(d, decision.retry_at_ms)
                continue
            found.append((d, step, self._request(seq, step, request_id)))
        return found

    def _request(self, seq: dict[str, str], step: int, request_id: str) -> Output:
        # A draft carries only name and company: without the step-1 request's lead (not seen,
        # or expired) the follow-up is written from those.
        lead = cast(Lead, lead_of(seq) or {
            "lead_id": seq["lead_id"], "campaign": seq["campaign"], "email": seq["email"],
            "first_name": "", "company": "", "created_at": 0})
        real_now = self.clock.real_now_ms()
        tier = seq.get("tier") or "small"
        request: GenerationRequest = {
            "request_id": request_id, "lead": lead, "tier": tier,
            "variant": seq.get("variant") or "", "rule": "sequence", "attempt": 0,
            "received_at": real_now, "routed_at": real_now, "campaign_id": seq["campaign"],
            "campaign_version": 0,  # the worker writes with the newest active version
            "step": step, "previous_subject": seq.get("subject", ""),
            "previous_body": seq.get("body", ""), "thread_draft_ids": thread_ids(seq)}
        topic = requests_topic(tier)
        return Output(request_id, topic, seq["lead_id"],
                      self.codec.encode("GenerationRequest", request, topic=topic))

    def _crm(self, record: CrmUpdate) -> Output:
        return Output(record["event_id"], CRM_UPDATES, record["lead_id"],
                      self.codec.encode(CRM_UPDATE, record, topic=CRM_UPDATES))
