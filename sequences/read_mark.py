"""How far the scheduler has read the engagement stream, as a time: the due-step gate.

A step due at virtual time t may be requested once every engagement event produced before t is
read: a reply, unsubscribe, bounce or complaint that arrived before the step was due stops it.
(One produced after the step was due races with its request; the send gate, sequences/gate.py,
drops that draft before it leaves.)

A mark is a time T. ``FRESH_MS`` after T, each owned engagement.events partition's high
watermark, as the consumer's own fetch responses report it (librdkafka caches it per
partition), counts every event acknowledged before T: the fetcher long-polls at most
``FETCH_WAIT_MS``, so a response written after T has come back by then. Those watermarks are
the mark's target; once the consumer's position has passed them on every partition, every
step due by T may be requested. A mark is taken on every call, so the gate opens about
``FRESH_MS`` behind the clock however steadily events arrive.

Several schedulers (one group) share the due steps in Redis, each reading its own partitions:
a step is requested only up to the time by which every partition is read, whoever owns it
(``SequenceStore.read_everywhere``: each scheduler records the time per partition it has
passed; a partition whose owner died keeps its last time until its new owner has read it).

What it replaces, measured on the 320-sequence test (issue 25): a check of position == high
watermark at the instant of the check, the watermark asked of the broker. Under a steady
stream of events that instant rarely came (the test was @slow); each check cost 3 ListOffsets
round trips queued behind the consumer's own 500 ms fetch long-poll (1.2-1.4 s a check, 8.3 s
of an 18 s run), so follow-ups were requested 3-9 virtual days (p50 3.3-8.8) after they were
due. And the embedded broker (Tansu) answers ListOffsets with the base offset of the last
batch + 1 (a batch of 10 records read as 1), which let that check pass with the end of the
last batch unread; the fetch response's watermark is right (10).
"""

from __future__ import annotations

import collections
import logging
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaException, TopicPartition

from outreach.topics import ENGAGEMENT
from sequences.clock import Clock

log = logging.getLogger(__name__)
# The scheduler's fetch long-poll (librdkafka's default is 500 ms): a mark is fresh after
# three of them (a request in flight at T, its successor, and slack for a loaded machine).
FETCH_WAIT_MS = 100
FRESH_MS = 3 * FETCH_WAIT_MS
MIN_SPACING_MS = 50  # a new mark at most every 50 ms: 6 pending while one becomes fresh
MAX_PENDING = 8  # behind a backlog, the oldest marks pass first: no need to keep more
COMMITTED_TIMEOUT_S = 2.0


@dataclass
class Mark:
    real_ms: int  # when it was taken
    at_ms: int  # the same instant on the virtual clock
    ends: dict[int, int] | None = None  # partition -> target, once fresh


class ReadMark:
    def __init__(self, consumer: Consumer, clock: Clock, topic: str = ENGAGEMENT) -> None:
        self._consumer = consumer
        self._topic = topic
        self._clock = clock
        self._marks: collections.deque[Mark] = collections.deque()
        self._owned: frozenset[int] = frozenset()
        self._committed: dict[int, int] = {}  # partitions not consumed from yet: where we start
        self._count: int | None = None

    @property
    def owned(self) -> frozenset[int]:
        """The engagement partitions this consumer owned at the last ``reached``."""
        return self._owned

    def partitions(self) -> int:
        """How many partitions the topic has (metadata; asked again after each rebalance)."""
        if self._count is None:
            meta = self._consumer.list_topics(self._topic, timeout=COMMITTED_TIMEOUT_S)
            self._count = len(meta.topics[self._topic].partitions)
        return self._count

    def reached(self) -> int | None:
        """The virtual time up to which every engagement event is read (the newest mark
        passed), or None when no mark is passed yet or the consumer owns no partitions
        (joining its group)."""
        try:
            assignment = self._consumer.assignment()
            owned = [tp for tp in assignment if tp.topic == self._topic]
            parts = frozenset(tp.partition for tp in owned)
            if not assignment or parts != self._owned:
                self._marks.clear()  # a rebalance: what was read may not be ours any more
                self._committed.clear()
                self._count = None
                self._owned = parts
                if not assignment:
                    return None
            now = self._clock.real_now_ms()
            if not self._marks or (len(self._marks) < MAX_PENDING
                                   and now - self._marks[-1].real_ms >= MIN_SPACING_MS):
                self._marks.append(Mark(now, self._clock.virtual(now)))
            highs = {tp.partition: self._high(tp) for tp in owned}
            for mark in self._marks:
                if mark.ends is None and now - mark.real_ms >= FRESH_MS and \
                        all(h >= 0 for h in highs.values()):
                    mark.ends = highs  # a later capture is only stricter: highs only grow
            read = {tp.partition: self._offset(tp) for tp in self._consumer.position(owned)}
        except KafkaException as exc:
            log.warning("cannot tell how far engagement.events is read (%s); due steps wait",
                        exc)
            return None
        passed = [i for i, mark in enumerate(self._marks) if mark.ends is not None
                  and all(read[p] >= end for p, end in mark.ends.items())]
        if not passed:
            return None
        for _ in range(passed[-1]):
            self._marks.popleft()
        return self._marks.popleft().at_ms

    def _high(self, tp: TopicPartition) -> int:
        """The high watermark of the consumer's last fetch response (no broker round trip),
        -1 until the first response."""
        _low, high = self._consumer.get_watermark_offsets(tp, cached=True)
        return int(high) if high >= 0 else -1

    def _offset(self, tp: TopicPartition) -> int:
        """The next offset this consumer reads from ``tp`` (position() is unset until it has
        consumed from the partition: then the group's committed offset, else the start)."""
        if tp.offset >= 0:
            return int(tp.offset)
        if tp.partition not in self._committed:  # fixed until we consume: only we commit it
            committed = self._consumer.committed([tp], timeout=COMMITTED_TIMEOUT_S)[0].offset
            self._committed[tp.partition] = int(committed) if committed >= 0 else -1
        if self._committed[tp.partition] >= 0:
            return self._committed[tp.partition]
        low, _high = self._consumer.get_watermark_offsets(tp, cached=True)
        return max(0, int(low))
