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
    assert inflight.finished(records[2]) == []            # 7 waits for 5 and 6
    assert inflight.finished(records[3]) == [records[3]]  # another partition is independent
    assert inflight.finished(records[0]) == [records[0]]  # 5 is next: commit up to 5
    assert inflight.finished(records[1]) == [records[1], records[2]]
    assert len(inflight) == 0
