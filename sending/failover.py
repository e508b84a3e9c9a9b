"""Failover: a mailbox that fails is paused, and its queue moves to the rest of its pool.

What counts as failing: an authentication refusal pauses at once (no retry logs in with a
revoked password); ``failures_to_pause`` consecutive transport failures (no connection, a 4xx
for every message, a relay that refuses) or 5xx refusals in a row (one bad address is a 550;
three different ones in a row is a blocked mailbox) pause it too. One success resets the count.

The paused mailbox's own queue (the follow-ups of the threads it started) moves at the start
of the next scheduling tick: each draft goes to the active mailbox of its campaign's pool with
the shortest queue per unit of today's cap, and the thread is pinned there. First emails wait
in their campaign's queue, which any active mailbox serves, so they need no move.
"""

from __future__ import annotations

import logging
import smtplib
from typing import Any

from outreach.errors import SendError
from sending.guardrails import ops_event
from sending.mailboxes import Mailbox, MailboxBook, Pool
from sending.schedule import Schedule

log = logging.getLogger(__name__)


def is_fatal(exc: SendError) -> bool:
    """An error no retry can fix on this mailbox: the server refused its login."""
    cause = exc.__cause__
    return isinstance(cause, smtplib.SMTPAuthenticationError)


class Failover:
    def __init__(self, pool: Pool, book: MailboxBook, schedule: Schedule,
                 failures_to_pause: int) -> None:
        self.pool = pool
        self.book = book
        self.schedule = schedule
        self.failures_to_pause = failures_to_pause

    def on_failure(self, box: Mailbox, exc: SendError, now_ms: int) -> dict[str, Any] | None:
        """Count a failure; the mailbox_paused event when this one pauses the mailbox."""
        failures = self.book.failed(box.address)
        if not is_fatal(exc) and failures < self.failures_to_pause:
            return None
        why = ("authentication refused" if is_fatal(exc)
               else f"{failures} failures in a row")
        reason = f"{why}: {exc}"
        if not self.book.pause(box.address, reason, now_ms):
            return None
        log.warning("mailbox %s paused: %s", box.address, reason)
        return ops_event("mailbox_paused", "mailbox", box.address, reason, now_ms)

    def on_success(self, box: Mailbox) -> None:
        self.book.succeeded(box.address)

    def move_queues(self, mailboxes: list[Mailbox], now_ms: int) -> list[dict[str, Any]]:
        """Empty the queue of every paused mailbox in ``mailboxes``; a queue_moved event per
        mailbox whose drafts moved."""
        events = []
        for box in mailboxes:
            queue = self.schedule.mailbox_queue(box.address)
            if not self.book.is_paused(box.address) or self.schedule.size(queue) == 0:
                continue
            moved, stuck = self._move(box, queue, now_ms)
            if moved:
                events.append(ops_event(
                    "queue_moved", "mailbox", box.address,
                    f"{moved} drafts moved to the rest of the pool" +
                    (f"; {stuck} wait (no active mailbox in their pool)" if stuck else ""),
                    now_ms, count=moved))
        return events

    def _move(self, box: Mailbox, queue: str, now_ms: int) -> tuple[int, int]:
        moved = stuck = 0
        load: dict[str, float] = {}
        for item in self.schedule.all_in(queue):
            meta = item.meta
            targets = [other for other in self.pool.for_campaign(
                meta["campaign"], meta.get("from_email", ""), meta.get("from_name", ""))
                if other.address != box.address and not self.book.is_paused(other.address)]
            if not targets:
                stuck += 1
                continue
            target = min(targets, key=lambda other: self._load(other, load, now_ms))
            if self.schedule.move(item.draft_id, queue, self.schedule.mailbox_queue(
                    target.address), target.address, meta.get("sequence")):
                moved += 1
                load[target.address] = self._load(target, load, now_ms) + 1 / self._cap(
                    target, now_ms)
        return moved, stuck

    def _load(self, box: Mailbox, load: dict[str, float], now_ms: int) -> float:
        if box.address not in load:
            queued = self.schedule.size(self.schedule.mailbox_queue(box.address))
            load[box.address] = queued / self._cap(box, now_ms)
        return load[box.address]

    @staticmethod
    def _cap(box: Mailbox, now_ms: int) -> int:
        return max(1, box.cap_on(box.day_of(now_ms)))
