"""The one SIGTERM/SIGINT -> stop-event helper (outreach/shutdown.py), with real signals."""

from __future__ import annotations

import os
import signal
import threading

from outreach.shutdown import stop_on_signals


def test_sigterm_and_sigint_set_the_event_and_the_old_handlers_come_back():
    seen = []
    before = signal.signal(signal.SIGTERM, lambda signum, _frame: seen.append(signum))
    try:
        previous = signal.getsignal(signal.SIGTERM)
        for sig in (signal.SIGTERM, signal.SIGINT):
            with stop_on_signals() as stop:
                assert not stop.is_set()
                os.kill(os.getpid(), sig)  # delivered before kill() returns to this thread
                assert stop.is_set()
        assert signal.getsignal(signal.SIGTERM) is previous
        os.kill(os.getpid(), signal.SIGTERM)
        assert seen == [signal.SIGTERM]  # the caller's handler again, not the helper's
    finally:
        signal.signal(signal.SIGTERM, before)


def test_the_callers_event_is_used_and_other_threads_install_nothing():
    mine = threading.Event()
    with stop_on_signals(mine) as stop:
        assert stop is mine
    handler = signal.getsignal(signal.SIGTERM)
    result = {}

    def in_thread() -> None:
        with stop_on_signals() as stop:
            result["handler"] = signal.getsignal(signal.SIGTERM)
            result["event"] = stop

    worker = threading.Thread(target=in_thread)
    worker.start()
    worker.join()
    assert result["handler"] is handler and isinstance(result["event"], threading.Event)
