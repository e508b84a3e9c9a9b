"""Which offsets may be committed while several requests are generated at once.

Kafka commits a position per partition, so an offset may be committed only when it and every
offset before it (that this consumer holds) has its outcome acknowledged: request 7 finishing
before request 5 waits until 5 is done too. A crash then redelivers 5, 6, 7, ... and their
deterministic draft_ids make the duplicates harmless.
"""

from __future__ import annotations

from collections import defaultdict

from confluent_kafka import Message


class InFlight:
    def __init__(self) -> None:
        self._pending: dict[tuple[str, int], dict[int, Message | None]] = defaultdict(dict)

    def __len__(self) -> int:
        return sum(1 for offsets in self._pending.values() for m in offsets.values() if m is None)

    def started(self, msg: Message) -> None:
        self._pending[(msg.topic(), msg.partition())][msg.offset()] = None

    def finished(self, msg: Message) -> list[Message]:
        """Mark ``msg`` acknowledged; returns the messages now safe to commit, in order."""
        offsets = self._pending[(msg.topic(), msg.partition())]
        offsets[msg.offset()] = msg
        ready = []
        for offset in sorted(offsets):
            done = offsets[offset]
            if done is None:
                break
            ready.append(done)
            del offsets[offset]
        return ready

    def forget_partitions(self, partitions: set[tuple[str, int]]) -> None:
        """A rebalance took these partitions away: their outcomes can no longer be committed."""
        for key in partitions:
            self._pending.pop(key, None)
