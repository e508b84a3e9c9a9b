"""The one consumer loop of every generation worker (a local GGUF, or the LLM tier's endpoint).

poll -> submit to a pool of ``slots`` threads -> as each outcome is ready, release the ones
InFlight allows (offset order per partition) -> publish each and wait for its ack -> commit.

- Full: while every slot is busy the assigned partitions are paused and the loop keeps calling
  consume(), which returns nothing but keeps the member in its group: librdkafka evicts a
  consumer that does not poll for max.poll.interval.ms (300 s), and an LLM request held while
  its endpoint is down can wait longer than that.
- Rebalance: ``on_revoke`` runs inside consume() on this thread, before the partitions go.
  It publishes and commits every outcome already finished (so the new owner does not
  regenerate them), then forgets the revoked partitions' in-flight offsets and abandons their
  running requests: their results are dropped when they arrive (the new owner, which starts
  at the committed offset, writes them; the same draft_id either way). ``on_assign`` pauses
  new partitions while the loop is full.
- A result of None means "not served, leave it uncommitted" (the LLM tier when stopping while
  its endpoint is down): it is redelivered, and later offsets of its partition wait for it.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from typing import Any, Protocol

from confluent_kafka import Consumer, KafkaException, Message, TopicPartition

from outreach.errors import KafkaError
from outreach.settings import Settings
from workers.inflight import InFlight

log = logging.getLogger(__name__)
# Waits of one loop turn: short while requests run (an outcome is published within 20 ms of
# being ready), up to worker.poll_timeout_s when idle.
BUSY_POLL_S = 0.02
RESULT_WAIT_S = 0.2


class _Stats(Protocol):
    consumed: int
    abandoned: int


class Served(Protocol):
    """What the loop needs of a worker (workers/worker.py Worker, workers/llm_worker.py
    LLMWorker). A Protocol, not an import of workers.worker: that module imports this one."""

    consumer: Consumer
    topic: str
    settings: Settings
    stats: _Stats

    def poll_many(self, limit: int, timeout_s: float) -> list[Message]: ...

    def process(self, msg: Message) -> Any: ...

    def publish(self, msg: Message, outcome: Any) -> None: ...

    def commit(self, messages: list[Message]) -> None: ...


def _key(msg: Message) -> tuple[str, int]:
    return msg.topic(), msg.partition()


class ConsumerLoop:
    def __init__(self, worker: Served, stop: threading.Event, slots: int,
                 max_messages: int | None = None, thread_name: str = "draft") -> None:
        self.worker = worker
        self.consumer: Consumer = worker.consumer
        self.stop = stop
        self.slots = slots
        self.max_messages = max_messages
        self.thread_name = thread_name
        self.inflight = InFlight()
        self.running: dict[Future, Message] = {}
        self.backlog: list[Message] = []  # fetched just before a pause; served first
        self.owned: set[tuple[str, int]] = set()
        self.paused = False
        self._closing = False

    def run(self) -> None:
        try:
            self.consumer.subscribe([self.worker.topic], on_assign=self._on_assign,
                                    on_revoke=self._on_revoke)
        except KafkaException as exc:
            raise KafkaError(f"cannot subscribe to {self.worker.topic}: {exc}") from exc
        try:
            with ThreadPoolExecutor(self.slots, thread_name_prefix=self.thread_name) as pool:
                while self._turn(pool):
                    pass
        finally:
            # consumer.close() calls on_revoke once more: nothing may be published then (after
            # an error the outcomes in hand are redelivered instead).
            self._closing = True

    def _room(self) -> int:
        room = self.slots - len(self.running)
        if self.max_messages is not None:
            room = min(room, self.max_messages - self.worker.stats.consumed - len(self.inflight))
        return room

    def _turn(self, pool: ThreadPoolExecutor) -> bool:
        """One poll-submit-collect round; False once stopped (or at max_messages) and idle."""
        room = self._room()
        if (self.stop.is_set() or room <= 0) and not self.running:
            return False
        if not self.stop.is_set() and room > 0:
            self._pause(False)
            batch = self.backlog[:room]
            del self.backlog[:len(batch)]
            if not batch:
                wait_s = BUSY_POLL_S if self.running else self.worker.settings.worker.poll_timeout_s
                batch = self.worker.poll_many(room, wait_s)
            for msg in batch:
                if _key(msg) in self.owned:  # a record fetched before a revoke stays behind
                    self.inflight.started(msg)
                    self.running[pool.submit(self.worker.process, msg)] = msg
        elif self.running and not self.stop.is_set():
            self._pause(True)
            self.backlog.extend(self.worker.poll_many(1, 0.0))  # membership, rebalances
        if self.running:
            done, _ = futures_wait(self.running, timeout=RESULT_WAIT_S,
                                   return_when=FIRST_COMPLETED)
            self._collect(done)
        return True

    def _collect(self, done: set[Future] | list[Future]) -> None:
        """Release, publish and commit what the finished futures allow (errors propagate:
        a model that cannot generate commits nothing, so the request is redelivered)."""
        for future in done:
            msg = self.running.pop(future, None)
            if msg is None:
                continue  # abandoned by a revoke
            result = future.result()
            if result is None:
                log.info("request at %s[%d]@%d left uncommitted for redelivery", msg.topic(),
                         msg.partition(), msg.offset())
                continue
            ready = self.inflight.finished(msg, result)
            for ready_msg, outcome in ready:
                self.worker.publish(ready_msg, outcome)
            self.worker.commit([ready_msg for ready_msg, _ in ready])

    def _pause(self, pause: bool) -> None:
        if pause == self.paused:
            return
        try:
            assigned = self.consumer.assignment()
            (self.consumer.pause if pause else self.consumer.resume)(assigned)
        except KafkaException as exc:
            log.warning("cannot %s partitions: %s", "pause" if pause else "resume", exc)
            return
        self.paused = pause

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.owned |= {(p.topic, p.partition) for p in partitions}
        log.info("assigned %s", sorted(p.partition for p in partitions))
        if self.paused and partitions:
            try:
                consumer.pause(partitions)
            except KafkaException as exc:
                log.warning("cannot pause newly assigned partitions: %s", exc)

    def _on_revoke(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        revoked = {(p.topic, p.partition) for p in partitions}
        if not self._closing:
            # Finished before the revoke: publish and commit now, while the offsets are ours.
            self._collect([future for future in self.running if future.done()])
        dropped = [future for future, msg in self.running.items() if _key(msg) in revoked]
        for future in dropped:
            del self.running[future]
        self.worker.stats.abandoned += len(dropped)
        self.inflight.forget_partitions(revoked)
        self.backlog = [msg for msg in self.backlog if _key(msg) not in revoked]
        self.owned -= revoked
        log.info("revoked %s (%d running request(s) left to the new owner)",
                 sorted(p for _, p in revoked), len(dropped))
