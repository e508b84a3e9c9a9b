"""The due-step gate (sequences/read_mark.py) on the real broker, under a steady stream.

A producer writes a record every few milliseconds for 4 s while a consumer reads and asks the
gate after each poll. Each time the gate opens at T, every record acknowledged before T must
already be read (the gate's promise: a reply that arrived before a step was due stops it); and
it must open again and again while records keep coming (the gate it replaced waited for an
instant with nothing unread, which a steady stream seldom gives: issue 25's starvation).
"""

from __future__ import annotations

import threading
import time

import pytest
from confluent_kafka import Consumer

from outreach.kafka import consumer_config, ensure_topics, make_producer
from outreach.settings import Settings
from sequences.clock import Clock
from sequences.read_mark import FETCH_WAIT_MS, ReadMark

pytestmark = pytest.mark.integration
STREAM_S = 4.0


def test_the_gate_opens_under_a_steady_stream_never_before_a_record_is_read(
        settings: Settings, unique: str) -> None:
    topic = f"mark-{unique}"
    ensure_topics(settings, [topic])
    acked: list[tuple[int, bytes]] = []  # (real ms at the acknowledgement, value)
    stop = threading.Event()

    def stream() -> None:
        producer = make_producer(settings)
        n = 0
        while not stop.is_set():
            producer.produce(topic, value=f"{n}".encode(), key=f"{n % 7}",
                             on_delivery=lambda err, msg: acked.append(
                                 (Clock.real_now_ms(), msg.value())) if err is None else None)
            producer.poll(0)
            n += 1
            time.sleep(0.003)
        producer.flush(10)

    consumer = Consumer(consumer_config(settings, f"{settings.kafka.group_prefix}-mark",
                                        **{"fetch.wait.max.ms": FETCH_WAIT_MS}))
    consumer.subscribe([topic])
    gate = ReadMark(consumer, consumer_config(settings, f"{settings.kafka.group_prefix}-probe"),
                    Clock(), topic)
    read: set[bytes] = set()
    opened: list[tuple[int, int]] = []  # (T, real ms when the gate said so)
    writer = threading.Thread(target=stream, daemon=True)
    try:
        while not consumer.assignment():
            consumer.consume(100, timeout=0.1)
        writer.start()
        end = time.monotonic() + STREAM_S
        while time.monotonic() < end:
            read.update(m.value() for m in consumer.consume(500, timeout=0.05) if not m.error())
            at = gate.reached()
            if at is not None:
                unread = [v for acked_ms, v in list(acked) if acked_ms < at and v not in read]
                assert not unread, f"gate opened at {at} with {len(unread)} earlier records unread"
                opened.append((at, Clock.real_now_ms()))
    finally:
        stop.set()
        writer.join(15)
        gate.close()
        consumer.close()
    behind = [now - at for at, now in opened]
    assert len(acked) > 300, len(acked)  # a steady stream: one record every 3-10 ms
    assert len(opened) >= 10, f"the gate opened {len(opened)} times in {STREAM_S} s"
    # Median: how far behind the clock the gate runs (a probe takes 0.2-0.4 s, plus the read).
    assert sorted(behind)[len(behind) // 2] < 1500, behind
    print(f"\n{len(acked)} records in {STREAM_S} s; the gate opened {len(opened)} times, "
          f"{sorted(behind)[len(behind) // 2]} ms behind the clock (median)")
