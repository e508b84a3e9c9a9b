"""The send decision the mail sender asks for, just before it claims a draft.

SEND, or:
- STOPPED: the draft's sequence stopped (a reply, unsubscribe, bounce or complaint arrived
  while the step was being written), or the contact's sequences stopped in another campaign
  (``sequences.stop_other_campaigns``): the draft is dropped, never sent later;
- DEFERRED: the contact cap is full; the draft's bytes wait in Redis until the slot frees and
  the scheduler publishes it again (``Scheduler.tick``), when it is asked about once more.
Asking twice about one draft gives one answer: the cap is held by the step's request id.
"""

from __future__ import annotations

from typing import Any

from outreach.settings import Settings
from sequences.cap import ContactCap
from sequences.clock import Clock
from sequences.state import STOPPED as STOPPED_STATUS
from sequences.state import SequenceStore, digest

SEND, STOPPED, DEFERRED = "send", "sequence_stopped", "contact_capped"


class SendGate:
    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self.store = SequenceStore(settings)
        self.cap = ContactCap(settings, self.store.redis)
        self.clock = clock or Clock.from_settings(settings.sequences)
        self.cfg = settings.sequences

    def decide(self, draft: dict[str, Any], raw: bytes) -> str:
        """SEND, STOPPED or DEFERRED for a decoded draft (``raw``: its record bytes, kept
        for a deferred re-publish). Raises StoreError when Redis fails (the sender retries)."""
        seq = self.store.sequence(digest(draft["lead_id"], draft["campaign"]))
        if seq.get("status") == STOPPED_STATUS:
            return STOPPED
        if self.cfg.stop_other_campaigns and self.store.contact_stopped(draft["to_email"]):
            return STOPPED
        decision = self.cap.reserve(draft["to_email"], draft["request_id"],
                                    self.clock.now_ms())
        if decision.allowed:
            return SEND
        self.store.defer_draft(draft["draft_id"], raw, decision.retry_at_ms)
        return DEFERRED

    def close(self) -> None:
        self.store.close()
