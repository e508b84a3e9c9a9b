"""The compacted `campaigns` topic as an in-memory table, for intake and workers.

A background thread reads the topic from the beginning (``assign``, no consumer group, nothing
committed) and keeps, per campaign id, the last few versions it has seen. ``start`` returns
once the table has caught up with the topic's high watermark, so a process never decides a lead
on a half-read table. ``sync`` repeats that catch-up on demand: a lead that names a campaign the
table does not hold is only declared unknown after the table has caught up with everything
published before the lead was decided (one watermark query, ~1 ms on loopback).

The foundation decodes nothing itself (it imports no schema code): the caller passes ``decode``
(bytes -> record dict with ``campaign_id`` and ``version``), e.g. the Avro codec's Campaign
reader. A record that does not decode is logged and skipped: one bad record must not hide the
table. A tombstone (null value) removes its campaign.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition
from confluent_kafka import KafkaError as RdKafkaError

from outreach.errors import KafkaError, OutreachError
from outreach.kafka import consumer_config
from outreach.settings import Settings
from outreach.topics import CAMPAIGNS

log = logging.getLogger(__name__)

# The caller's record type (schemas.records.Campaign for the codec's reader): the table hands
# back what ``decode`` returned, typed as such.
Record = TypeVar("Record", bound=Mapping[str, Any])
# Versions kept per campaign: a request routed just before an update still finds the version
# it was routed with; older ones are only needed by requests queued for hours.
VERSIONS_KEPT = 8
POLL_S = 0.2


class CampaignLog(Generic[Record]):
    """Latest (and the last few) versions of every campaign on the `campaigns` topic."""

    def __init__(self, settings: Settings, decode: Callable[[bytes], Record],
                 topic: str = CAMPAIGNS, versions_kept: int = VERSIONS_KEPT) -> None:
        self._settings = settings
        self._decode = decode
        self._topic = topic
        self._versions_kept = max(1, versions_kept)
        self._table: dict[str, OrderedDict[int, Record]] = {}
        self._positions: dict[int, int] = {}  # partition -> next offset to read
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        try:
            # A group id is required by librdkafka's consumer, but with assign() it never joins
            # the group and nothing is committed; a random one keeps processes apart.
            group = f"{settings.kafka.group_prefix}-campaigns-{uuid.uuid4().hex[:8]}"
            self._consumer = Consumer(consumer_config(settings, group))
            # Watermarks come from a handle of their own: get_watermark_offsets on the handle
            # another thread is blocked in consume() on hung past its timeout (measured, with
            # confluent-kafka 2.x against Tansu).
            self._meta = Consumer(consumer_config(settings, group))
            self._meta_lock = threading.Lock()
        except KafkaException as exc:
            raise KafkaError(f"cannot create the campaigns reader: {exc}") from exc

    # -- life cycle --------------------------------------------------------------------------

    def start(self, timeout_s: float = 30.0) -> CampaignLog[Record]:
        """Assign every partition from the beginning, start the reader and wait for catch-up."""
        try:
            with self._meta_lock:
                meta = self._meta.list_topics(self._topic, timeout=timeout_s)
        except KafkaException as exc:
            raise KafkaError(f"cannot read topic {self._topic}: {exc}") from exc
        topic = meta.topics.get(self._topic)
        if topic is None or topic.error is not None or not topic.partitions:
            raise KafkaError(f"topic {self._topic} does not exist; run `outreach up` or create "
                             f"the contract topics (outreach.kafka.ensure_topics)")
        partitions = sorted(topic.partitions)
        self._consumer.assign([TopicPartition(self._topic, p, OFFSET_BEGINNING)
                               for p in partitions])
        with self._cond:
            self._positions = {p: 0 for p in partitions}
        self._thread = threading.Thread(target=self._run, name="campaign-log", daemon=True)
        self._thread.start()
        if not self.sync(timeout_s):
            raise KafkaError(f"the campaigns table did not catch up with {self._topic} within "
                             f"{timeout_s:.0f} s")
        log.info("campaigns table: %d campaign(s) from %s", len(self._table), self._topic)
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        try:
            self._consumer.close()
            with self._meta_lock:
                self._meta.close()
        except (KafkaException, RuntimeError) as exc:
            log.warning("closing the campaigns reader failed: %s", exc)

    def __enter__(self) -> CampaignLog[Record]:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reads (any thread) ------------------------------------------------------------------

    def latest(self, campaign_id: str) -> Record | None:
        """The newest version of ``campaign_id`` seen so far (retired included), or None."""
        with self._cond:
            versions = self._table.get(campaign_id)
            return next(reversed(versions.values())) if versions else None

    def get(self, campaign_id: str, version: int) -> Record | None:
        """Exactly ``version`` of ``campaign_id`` if it is still held."""
        with self._cond:
            return self._table.get(campaign_id, {}).get(version)

    def campaigns(self) -> dict[str, Record]:
        """The newest version of every campaign (a snapshot)."""
        with self._cond:
            return {cid: next(reversed(v.values())) for cid, v in self._table.items() if v}

    def sync(self, timeout_s: float) -> bool:
        """Wait until everything on the topic *now* has been read; False on timeout."""
        deadline = time.monotonic() + timeout_s
        try:
            with self._meta_lock:
                targets = {p: self._meta.get_watermark_offsets(
                    TopicPartition(self._topic, p), timeout=max(0.1, timeout_s),
                    cached=False)[1] for p in list(self._positions)}
        except KafkaException as exc:
            raise KafkaError(f"cannot read the watermarks of {self._topic}: {exc}") from exc
        with self._cond:
            while not all(self._positions.get(p, 0) >= high for p, high in targets.items()):
                self._raise_if_failed()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, POLL_S))
            return True

    def wait_for(self, campaign_id: str, version: int, timeout_s: float) -> Record | None:
        """``version`` (or a newer one) of ``campaign_id``: catch up once if the table holds an
        older one or none; None if it is still missing after that."""
        held = self.latest(campaign_id)
        if held is None or held["version"] < version:
            self.sync(timeout_s)
        exact = self.get(campaign_id, version)
        if exact is not None:
            return exact
        held = self.latest(campaign_id)
        return held if held is not None and held["version"] >= version else None

    # -- reader thread -----------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                messages = self._consumer.consume(num_messages=500, timeout=POLL_S)
                if messages:
                    self._apply(messages)
        except (KafkaException, OutreachError) as exc:
            log.exception("campaigns reader stopped")
            with self._cond:
                self._error = exc
                self._cond.notify_all()

    def _apply(self, messages: list[Any]) -> None:
        with self._cond:
            for msg in messages:
                if msg.error():
                    if msg.error().fatal():
                        raise KafkaError(f"campaigns reader failed: {msg.error()}")
                    if msg.error().code() != RdKafkaError._PARTITION_EOF:
                        log.warning("campaigns reader: %s (retried by librdkafka)", msg.error())
                    continue
                self._positions[msg.partition()] = msg.offset() + 1
                self._put(msg)
            self._cond.notify_all()

    def _put(self, msg: Any) -> None:
        key = msg.key().decode("utf-8", "replace") if msg.key() else None
        if msg.value() is None:
            if key is not None:
                self._table.pop(key, None)  # tombstone: the campaign is gone
            return
        try:
            record = self._decode(msg.value())
            campaign_id, version = str(record["campaign_id"]), int(record["version"])
        except (OutreachError, KeyError, TypeError, ValueError) as exc:
            log.warning("campaigns record at offset %d skipped: %s", msg.offset(), exc)
            return
        versions = self._table.setdefault(campaign_id, OrderedDict())
        versions[version] = record
        if next(reversed(versions)) != max(versions):  # an older version replayed late
            ordered = sorted(versions.items())
            versions.clear()
            versions.update(ordered)
        while len(versions) > self._versions_kept:
            versions.popitem(last=False)

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise KafkaError(f"the campaigns reader stopped: {self._error}") from self._error
