"""The one SIGTERM/SIGINT -> stop-event helper of every long-running command.

``docker stop`` and supervisors send SIGTERM, a terminal sends SIGINT; either sets the event,
and the process finishes the record in hand, commits it and returns (no half-written outcome).
The previous handlers come back on exit, so a test or the demo that runs a service in-process
gets its own Ctrl-C behaviour back.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Iterator
from typing import Any

log = logging.getLogger(__name__)
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@contextlib.contextmanager
def stop_on_signals(stop: threading.Event | None = None,
                    what: str = "finishing the record in hand") -> Iterator[threading.Event]:
    """Yield ``stop`` (a new event if None), set by SIGTERM/SIGINT while the block runs.

    Off the main thread (a service run in a thread by the demo or a test) no handler is
    installed: Python allows signal handlers only in the main thread, and the caller owns
    ``stop`` there.
    """
    stop = stop if stop is not None else threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def request_stop(signum: int, _frame: Any) -> None:
        log.info("received %s: %s", signal.Signals(signum).name, what)
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in STOP_SIGNALS}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
