from dataclasses import dataclass

from workers.inflight import InFlight


@dataclass(frozen=True)
class Record:
    """The three accessors of confluent_kafka.Message that InFlight reads."""

    t: str
    p: int
    o: int

    def topic(self):
        return self.t

    def partition(self):
        return self.p

    def offset(self):
        return self.o


def test_offsets_commit_only_when_everything_before_them_is_done():
    inflight = InFlight()
    records = [Record("req", 0, offset) for offset in (5, 6, 7)] + [Record("req", 1, 3)]
    for record in records:
        inflight.started(record)
    assert len(inflight) == 4
    assert inflight.finished(records[2], "o7") == []      # 7 waits for 5 and 6
    assert len(inflight) == 4                             # ... and is not released yet
    assert inflight.finished(records[3], "o3") == [(records[3], "o3")]  # another partition
    assert inflight.finished(records[0], "o5") == [(records[0], "o5")]  # 5 is next
    assert inflight.finished(records[1], "o6") == [(records[1], "o6"), (records[2], "o7")]
    assert len(inflight) == 0


def test_a_revoked_partition_releases_nothing_more():
    inflight = InFlight()
    first, second, other = Record("req", 0, 1), Record("req", 0, 2), Record("req", 1, 9)
    for record in (first, second, other):
        inflight.started(record)
    assert inflight.finished(second, "o2") == []          # behind 1, which is still running
    inflight.forget_partitions({("req", 0)})              # a rebalance took partition 0
    assert len(inflight) == 1                             # only partition 1's request is left
    assert inflight.finished(other, "o9") == [(other, "o9")]
