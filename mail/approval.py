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
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from confluent_kafka import Producer

from outreach.held import EDITED, HeldDrafts, HeldItem
from outreach.kafka import make_producer, produce_sync
from outreach.settings import Settings
from outreach.topics import DRAFTS, FEEDBACK
from schemas.codec import AvroCodec

log = logging.getLogger(__name__)


def preference_pair(item: HeldItem) -> dict[str, Any]:
    """The FeedbackExample of an edit: the person's text beats the model's."""
    draft, original = item.draft, item.original or {}
    return {
        "example_id": f"pref-edit-{item.draft_id}", "kind": "PREFERENCE_PAIR",
        "lead": item.lead, "draft_id": item.draft_id,
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
        self.codec = AvroCodec(registry_url=settings.kafka.schema_registry_url)
        self.producer = producer or make_producer(settings)
        self._lock = threading.Lock()  # one flush at a time: each draft produced once per flush

    def flush(self) -> int:
        """Publish every decided draft still in the outbox; returns how many."""
        with self._lock:
            items = self.held.outbox()
            for item in items:
                self._publish(item)
            return len(items)

    def _publish(self, item: HeldItem) -> None:
        draft = {**item.draft, "review_status": item.status,
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
        self.producer.flush(10)
