"""Which outcomes may be published and committed while several requests are generated at once.

Kafka commits a position per partition, so an offset may be committed only when it and every
offset before it (that this consumer holds) has its outcome acknowledged: request 7 finishing
before request 5 waits until 5 is done too. Outcomes are released in that same order and the
consumer loop publishes and commits them together, so an outcome is never on the output topic
while its offset stays uncommitted behind a slower request: a rebalance then hands the new
owner only requests whose outcome nobody published (no duplicate record), and a crash
redelivers 5, 6, 7, ... whose deterministic draft_ids make any duplicate harmless.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from confluent_kafka import Message

_RUNNING = object()  # an offset whose outcome is not ready yet


class InFlight:
    def __init__(self) -> None:
        self._pending: dict[tuple[str, int], dict[int, tuple[Message, Any]]] = defaultdict(dict)

    def __len__(self) -> int:
        """Messages started and not yet released (running, or ready behind a running one)."""
        return sum(len(offsets) for offsets in self._pending.values())

    def started(self, msg: Message) -> None:
        self._pending[(msg.topic(), msg.partition())][msg.offset()] = (msg, _RUNNING)

    def finished(self, msg: Message, result: Any = None) -> list[tuple[Message, Any]]:
        """Record ``msg``'s outcome; returns the (message, outcome) pairs now releasable, in
        offset order: every one of them may be published, then committed."""
        offsets = self._pending[(msg.topic(), msg.partition())]
        offsets[msg.offset()] = (msg, result)
        ready = []
        for offset in sorted(offsets):
            done, outcome = offsets[offset]
            if outcome is _RUNNING:
                break
            ready.append((done, outcome))
            del offsets[offset]
        return ready

    def forget_partitions(self, partitions: set[tuple[str, int]]) -> None:
        """A rebalance took these partitions away: their outcomes can no longer be committed
        (the new owner redelivers them), so nothing of them is released any more."""
        for key in partitions:
            self._pending.pop(key, None)
