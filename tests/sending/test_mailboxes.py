"""Caps, gaps and ramp-up on a real Redis, including many threads racing for one mailbox."""

from __future__ import annotations

import datetime as dt
import threading

from outreach.settings import MailboxSettings, SendingSettings, Settings
from outreach.store import sync_client
from sending.keys import prefix
from sending.mailboxes import MailboxBook, Pool

DAY0 = dt.date(2026, 11, 16)
NOON = int(dt.datetime(2026, 11, 16, 12, tzinfo=dt.timezone.utc).timestamp() * 1000)


def pool_of(settings: Settings, **limits) -> tuple[Pool, MailboxBook]:
    box = MailboxSettings(address="Rep@Send.Example", smtp_host="127.0.0.1", **limits)
    settings = settings.model_copy(update={"sending": SendingSettings(mailboxes=(box,))})
    return Pool(settings), MailboxBook(sync_client(settings.redis_url or ""), prefix(settings))


def test_ramp_up_grows_to_the_cap(settings: Settings) -> None:
    pool, _ = pool_of(settings, daily_cap=20, ramp_start=DAY0, ramp_first_day=5,
                      ramp_daily_increase=4)
    box = pool.get("rep@send.example")
    caps = [box.cap_on(DAY0 + dt.timedelta(days=n)) for n in range(-1, 6)]
    assert caps == [0, 5, 9, 13, 17, 20, 20]


def test_the_gap_and_the_cap_hold(settings: Settings) -> None:
    pool, book = pool_of(settings, daily_cap=3, min_gap_s=60)
    box = pool.get("rep@send.example")
    first = book.reserve(box, NOON)
    too_soon = book.reserve(box, NOON + 59_000)
    assert first.allowed and (too_soon.allowed, too_soon.why) == (False, "gap")
    assert too_soon.retry_at_ms == NOON + 60_000
    assert book.reserve(box, NOON + 60_000).allowed and book.reserve(box, NOON + 120_000).allowed
    full = book.reserve(box, NOON + 180_000)
    assert (full.allowed, full.why) == (False, "cap")
    assert full.retry_at_ms == int(dt.datetime(2026, 11, 17, tzinfo=dt.timezone.utc)
                                   .timestamp() * 1000)
    assert book.reserve(box, full.retry_at_ms).allowed  # a new day, a new cap
    assert book.sent_on(box, DAY0) == 3


def test_racing_threads_never_pass_the_cap(settings: Settings) -> None:
    pool, book = pool_of(settings, daily_cap=10, min_gap_s=0)
    box = pool.get("rep@send.example")
    allowed: list[bool] = []
    lock = threading.Lock()

    def race() -> None:
        for _ in range(10):
            ok = book.reserve(box, NOON).allowed
            with lock:
                allowed.append(ok)

    threads = [threading.Thread(target=race) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (len(allowed), sum(allowed)) == (80, 10)


def test_a_paused_mailbox_takes_no_slot(settings: Settings) -> None:
    pool, book = pool_of(settings)
    box = pool.get("rep@send.example")
    assert book.pause(box.address, "relay refused", NOON) is True
    assert book.pause(box.address, "again", NOON) is False  # one pause, one event
    assert book.reserve(box, NOON).why == "paused"
    assert book.status(box.address)["reason"] == "relay refused"
    assert book.resume(box.address, NOON) and book.reserve(box, NOON).allowed
