"""How far the scheduler has read the engagement stream, as a time: the due-step gate.

A step due at virtual time t may be requested once every engagement event produced before t is
read: a reply, unsubscribe, bounce or complaint that arrived before the step was due stops it.
(One produced after the step was due races with its request; the send gate, sequences/gate.py,
drops that draft before it leaves.)

A mark is a time T and, per owned engagement.events partition, the partition's end as a fetch
after T saw it: a probe consumer (no group) is assigned to the partitions at T, at the last
record the scheduler's consumer has seen, and librdkafka drops every fetch response to an
earlier assignment, so the first record (or end-of-partition event) each partition then
yields came in a response written after T, whose high watermark (the probe caches it) lies
past every event acknowledged before T. Once the scheduler's consumer has read to those ends,
every step due by T may be requested, and the next probe starts. Starting at the last record
seen, the first fetch answers at once and reads little; the gate opens about one probe
(0.1-0.4 s on the embedded broker) behind the clock however steadily events arrive.

Several schedulers (one group) share the due steps in Redis, each reading its own partitions:
a step is requested only up to the time by which every partition is read, whoever owns it
(``SequenceStore.read_everywhere``: each scheduler records the time per partition it has
passed; a partition whose owner died keeps its last time until its new owner has read it).

What it replaces, measured (issue 25):
- position == the broker's high watermark at the instant of a check: under a steady stream
  that instant rarely came (0 openings in 4 s of one record every 3 ms; the 320-sequence test
  was @slow), each check cost 3 ListOffsets round trips queued behind the consumer's own
  500 ms fetch long-poll (1.2-1.4 s a check), follow-ups went out 3-9 virtual days late; and
  the embedded broker (Tansu) answers ListOffsets with the base offset of the last batch + 1
  (a batch of 10 records read as 1), so the check could pass with the last batch unread;
- the consumer's own cached watermarks read 300 ms after T (three fetch long-polls): at load
  7 on 2 cores the fetcher had not caught up, and the gate opened with 11 records acknowledged
  before T unread (tests/sequences/test_read_mark.py). The probe needs no such timing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition

from outreach.topics import ENGAGEMENT
from sequences.clock import Clock

log = logging.getLogger(__name__)
# The fetch long-poll of the scheduler's consumer and of the probe (librdkafka's default is
# 500 ms): an empty partition's end comes back within one.
FETCH_WAIT_MS = 100
MAX_PENDING = 8  # marks measured but not yet read to: behind a backlog, probe no further
COMMITTED_TIMEOUT_S = 2.0
PROBE_CONFIG = {"enable.partition.eof": True, "enable.auto.commit": False,
                "fetch.wait.max.ms": FETCH_WAIT_MS}


@dataclass
class Mark:
    at_ms: int  # virtual time the probe was assigned
    ends: dict[int, int]  # partition -> its end as a fetch after at_ms saw it (filled in)


class ReadMark:
    """``consumer``: the scheduler's (subscribed); ``probe_config``: a consumer configuration
    for the probe (its group id is never joined: the probe only assigns)."""

    def __init__(self, consumer: Consumer, probe_config: dict[str, Any], clock: Clock,
                 topic: str = ENGAGEMENT) -> None:
        self._consumer = consumer
        self._probe_config = {**probe_config, **PROBE_CONFIG}
        self._probe: Consumer | None = None
        self._topic = topic
        self._clock = clock
        self._marks: list[Mark] = []  # measured, oldest first
        self._probing: Mark | None = None
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
        (joining its group). Never blocks: the probe is read without waiting."""
        try:
            assignment = self._consumer.assignment()
            owned = [tp for tp in assignment if tp.topic == self._topic]
            parts = frozenset(tp.partition for tp in owned)
            if not assignment or parts != self._owned:
                # A rebalance: what was read may not be ours any more.
                self._marks.clear()
                self._probing = None
                self._committed.clear()
                self._count = None
                self._owned = parts
                if not assignment:
                    return None
            self._measure(owned)
            read = {tp.partition: self._offset(tp) for tp in self._consumer.position(owned)}
        except KafkaException as exc:
            log.warning("cannot tell how far engagement.events is read (%s); due steps wait",
                        exc)
            return None
        passed = [i for i, mark in enumerate(self._marks)
                  if all(read[p] >= end for p, end in mark.ends.items())]
        if not passed:
            return None
        newest = self._marks[passed[-1]]
        del self._marks[:passed[-1] + 1]
        return newest.at_ms

    def _measure(self, owned: list[TopicPartition]) -> None:
        """Start a probe, or collect the ends of the one under way."""
        if self._probing is None:
            if len(self._marks) >= MAX_PENDING:
                return
            mark = Mark(self._clock.now_ms(), {})
            if not owned:
                self._marks.append(mark)  # nothing of ours to read
                return
            if self._probe is None:
                self._probe = Consumer(self._probe_config)
            self._probe.assign([TopicPartition(self._topic, tp.partition, self._start(tp))
                                for tp in owned])
            self._probing = mark
            return
        assert self._probe is not None
        for msg in self._probe.consume(1000, timeout=0):
            part, error, offset = msg.partition(), msg.error(), msg.offset()
            if part is None or offset is None or part in self._probing.ends or (
                    error is not None and error.code() != KafkaError._PARTITION_EOF):
                continue
            # The first record (or end) of ``part`` since the assignment came in a fetch
            # response written after T; the probe cached that response's high watermark.
            _low, high = self._probe.get_watermark_offsets(
                TopicPartition(self._topic, part), cached=True)
            seen = offset if error is not None else offset + 1
            self._probing.ends[part] = max(int(high), seen)
        if set(self._probing.ends) >= {tp.partition for tp in owned}:
            self._marks.append(self._probing)
            self._probing = None

    def _start(self, tp: TopicPartition) -> int:
        """Where the probe starts: the last record the consumer's own fetches saw, so its
        first fetch answers at once with that record (or, on an empty partition, with the
        partition's end), and reads little else; the beginning before any fetch."""
        _low, high = self._consumer.get_watermark_offsets(tp, cached=True)
        return int(high) - 1 if high >= 1 else (0 if high == 0 else OFFSET_BEGINNING)

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

    def close(self) -> None:
        if self._probe is not None:
            self._probe.close()
            self._probe = None
