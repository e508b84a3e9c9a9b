"""Approved drafts out of the approval queue: publish to email.drafts, edits to training.feedback.

The queue (outreach/held.py) moves a decided draft into its outbox in the same Redis call that
records the decision; ``ApprovalPublisher.flush`` produces each outbox draft to email.drafts
(acks=all, waits for the ack) and only then takes it out of the outbox. Crash in between: the
next flush (every decision, and at start) publishes it again under the same draft_id, and the
mail sender's SET NX claim on draft_id sends it once. So an approved draft is sent exactly
once, whichever process restarts.

An edit is also kept as a preference pair (FeedbackExample kind PREFERENCE_PAIR: the edited
text is chosen, the model's original rejected), produced before the draft leaves the outbox,
with a deterministic example_id so a republish is a duplicate the training export drops.

Undo: a decision is published ``approval.undo_s`` after it was made (``start`` runs a flush
every half second); until then the reviewer can take it back (HeldDrafts.undo). A flush first
claims each draft (outbox -> publishing), so an undo and a publish never both happen.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import cast

from confluent_kafka import Producer

from outreach.errors import OutreachError
from outreach.held import EDITED, HeldDrafts, HeldItem
from outreach.kafka import make_producer, produce_sync
from outreach.settings import Settings
from outreach.topics import DRAFTS, FEEDBACK
from schemas.codec import AvroCodec
from schemas.records import EmailDraft, FeedbackExample, Lead

log = logging.getLogger(__name__)


def held_records(item: HeldItem) -> tuple[EmailDraft, Lead]:
    """The held draft and its lead as records: the worker held them (workers.ladder), the
    foundation keeps them as JSON without naming their schema."""
    return cast(EmailDraft, item.draft), cast(Lead, item.lead)


def preference_pair(item: HeldItem) -> FeedbackExample:
    """The FeedbackExample of an edit: the person's text beats the model's."""
    (draft, lead), original = held_records(item), item.original or {}
    return {
        "example_id": f"pref-edit-{item.draft_id}", "kind": "PREFERENCE_PAIR",
        "lead": lead, "draft_id": item.draft_id,
        "subject": draft["subject"], "body": draft["body"],
        "rejected_draft_id": item.draft_id, "rejected_subject": original.get("subject"),
        "rejected_body": original.get("body"),
        "model_id": draft["model_id"], "model_version": draft.get("model_version", ""),
        "variant": draft["variant"], "labels": ["human_edit", f"rung:{item.rung}"],
        "reward": 1.0, "created_at": item.decided_at or int(time.time() * 1000),
        "campaign_version": draft.get("campaign_version", 0),
        "evidence_ids": draft.get("evidence_ids", []),
    }


class ApprovalPublisher:
    def __init__(self, settings: Settings, held: HeldDrafts,
                 producer: Producer | None = None) -> None:
        self.held = held
        self.undo_s = settings.approval.undo_s
        self.codec = AvroCodec(registry_url=settings.kafka.schema_registry_url)
        self.producer = producer or make_producer(settings)
        self._lock = threading.Lock()  # one flush at a time: each draft produced once per flush
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def flush(self) -> int:
        """Publish every decided draft whose undo window has passed; returns how many."""
        cutoff = int((time.time() - self.undo_s) * 1000)
        with self._lock:
            published = 0
            for item in self.held.outbox():
                if (item.decided_at or 0) > cutoff or not self.held.claim(item.draft_id):
                    continue
                self._publish(item)
                published += 1
            return published

    def start(self, interval_s: float = 0.5) -> ApprovalPublisher:
        """Flush in the background (decisions leave once their undo window passes)."""
        def run() -> None:
            while not self._stop.wait(interval_s):
                try:
                    self.flush()
                except OutreachError as exc:  # Redis or broker away: the next round retries
                    log.warning("approval outbox not flushed: %s", exc)

        self._thread = threading.Thread(target=run, name="approval-publisher", daemon=True)
        self._thread.start()
        return self

    def _publish(self, item: HeldItem) -> None:
        draft: EmailDraft = {**held_records(item)[0], "review_status": item.status,
                             "reviewed_by": item.reviewer or ""}
        if item.status == EDITED:
            pair = preference_pair(item)
            produce_sync(self.producer, FEEDBACK,
                         self.codec.encode("FeedbackExample", pair, topic=FEEDBACK),
                         key=item.draft_id)
        produce_sync(self.producer, DRAFTS, self.codec.encode("EmailDraft", draft, topic=DRAFTS),
                     key=item.draft_id)
        self.held.published(item.draft_id)
        log.info("draft %s %s by %s: published to %s", item.draft_id, item.status,
                 item.reviewer, DRAFTS)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.producer.flush(10)
