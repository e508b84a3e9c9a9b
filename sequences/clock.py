"""Time for sequences: a clock that can run fast, and business days.

Every process of one deployment (schedulers, mail senders) must read the same time, or a
follow-up would be due in one and not in another; the virtual clock is therefore a pure
function of the real time and two settings: ``virtual = epoch + (real - epoch) * speed``. With
speed 1 it is the real clock; the demo and the tests run business days in seconds.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from outreach.settings import SequenceSettings

DAY_MS = 86_400_000


class Clock:
    """Virtual epoch milliseconds; ``real_s`` converts a virtual span to real seconds."""

    def __init__(self, speed: float = 1.0, epoch_ms: int | None = None) -> None:
        self.speed = speed
        self.epoch_ms = epoch_ms if epoch_ms is not None else 0

    @classmethod
    def from_settings(cls, cfg: SequenceSettings) -> Clock:
        return cls(cfg.clock_speed, cfg.clock_epoch_ms)

    def now_ms(self) -> int:
        return self.virtual(self.real_now_ms())

    def virtual(self, real_ms: float) -> int:
        """The virtual time of a real instant (a draft's created_at, say)."""
        return int(self.epoch_ms + (real_ms - self.epoch_ms) * self.speed)

    @staticmethod
    def real_now_ms() -> int:
        return int(time.time() * 1000)

    def real_s(self, virtual_ms: float) -> float:
        return max(0.0, virtual_ms / 1000.0 / self.speed)


def add_business_days(start_ms: int, days: int, business_days: tuple[int, ...]) -> int:
    """``start_ms`` moved forward by ``days`` business days (UTC weekdays in ``business_days``),
    keeping the time of day; a start outside business days first moves to the next one, so
    "2 business days after a Saturday send" is Tuesday, not Monday."""
    stamp = datetime.fromtimestamp(start_ms / 1000.0, tz=timezone.utc)
    if days <= 0:
        return start_ms
    while stamp.weekday() not in business_days:
        stamp += timedelta(days=1)
    counted = 0
    while counted < days:
        stamp += timedelta(days=1)
        if stamp.weekday() in business_days:
            counted += 1
    return int(stamp.timestamp() * 1000)
