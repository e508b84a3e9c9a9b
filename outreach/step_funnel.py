"""The sequence funnel per campaign and step: sent, replied, stopped, finished.

Written by the sequence scheduler inside its Redis transitions (sequences/state.py), so a
record replayed after a crash counts nothing twice; read by the dashboard's campaign view.
One hash per campaign (prefix from settings.redis.key_prefix):

    <prefix>:seq:funnel:<campaign>   "<field>:<step>" -> count

    sent          step n was written for a sequence still running (crm.updates SENT)
    replied       a reply arrived while the sequence stood at step n (every class)
    auto_replied  of those, out-of-office and other auto-replies: the sequence went on
    stopped       the sequence stopped at step n (reply, unsubscribe, bounce, complaint,
                  meeting booked, a stop in another campaign, a step no rung could write)
    finished      step n was the last: the sequence completed

"At step n" is the step the sequence had reached when the event arrived, as on crm.updates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

FIELDS = ("sent", "replied", "auto_replied", "stopped", "finished")


def funnel_prefix(key_prefix: str) -> str:
    """Every campaign's funnel key starts with this (the scheduler's scripts add the id)."""
    return f"{key_prefix}:seq:funnel:"


def funnel_key(key_prefix: str, campaign: str) -> str:
    return funnel_prefix(key_prefix) + campaign


@dataclass(frozen=True)
class StepCounts:
    step: int
    sent: int = 0
    replied: int = 0
    auto_replied: int = 0
    stopped: int = 0
    finished: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def parse(raw: Mapping[Any, Any]) -> list[StepCounts]:
    """The hash as rows, step 1 up to the highest step with a count (gaps filled with 0)."""
    counts: dict[int, dict[str, int]] = {}
    for key, value in raw.items():
        name, _, step = _text(key).rpartition(":")
        if name in FIELDS and step.isdigit():
            counts.setdefault(int(step), {})[name] = int(_text(value))
    last = max(counts, default=0)
    return [StepCounts(step, **counts.get(step, {})) for step in range(1, last + 1)]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
