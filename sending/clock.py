"""A clock the caller moves: the simulation and the tests step virtual time by hand.

The engine reads time only through ``now_ms`` (and ``speed`` for its leases), so a
``ManualClock`` runs the very same code a deployment runs on sequences.clock.Clock.
"""

from __future__ import annotations

from sequences.clock import Clock


class ManualClock(Clock):
    def __init__(self, start_ms: int) -> None:
        super().__init__(speed=1.0, epoch_ms=start_ms)
        self.now = start_ms

    def now_ms(self) -> int:
        return self.now

    def advance(self, ms: int) -> int:
        self.now += ms
        return self.now
