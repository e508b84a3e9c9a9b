"""Hot reload: a worker follows its tier's releases without stopping, dropping or repeating work.

ModelHolder keeps up to two loaded models, the tier's champion and challenger, and hands out
leases. A request holds its lease for its whole generation (every attempt), so a swap never
changes the model under a request in flight: requests that started on the old model finish on
it, the next ones get the new one, and the old model is closed when its last lease ends.
Nothing is re-consumed or skipped, so offsets and commits (workers/inflight.py) are untouched.

ReleaseFollower keeps the holder on the tier's current releases:
- At start it reads the Redis pointers (outreach/releases.py), so a worker started after an
  announcement serves the current release; it reads them again every RESYNC_S.
- It follows model.updates from the end: a unique group.id per process (librdkafka requires
  one; nothing is committed) and the partitions assigned by hand at their end offsets, taken
  *before* the pointers are read. A publish writes the pointer before it announces, so every
  release is either in the pointers read or after those offsets (never in the gap between),
  and no group join delays the start (~3 s on the embedded broker).
- For a release of its own tier it resolves the GGUF (a file path, or an s3:// download),
  verifies the sha256 by hashing the file (never a cached digest), loads it beside the current
  model and swaps. If anything fails the current model keeps serving and a "model_error"
  event is reported (on_event, the outreach_worker_model_reloads_total counter and the log).
Released models are merged GGUFs served with the trained prompt: no LoRA adapter. A release
whose registry manifest names a head cut (releases/head_cut.py: a trim of the release, stored
beside it with its trim manifest) is served as that head cut, verified like the release itself;
every model a slot takes, released or configured, is logged with its head, and exported as
outreach_worker_model_head_cut{tier, slot}.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, cast

import redis
from confluent_kafka import Consumer, KafkaException, TopicPartition

from outreach.errors import KafkaError, ModelError, RegistryError, SchemaError, Sha256Mismatch
from outreach.kafka import consumer_config, ensure_topics
from outreach.hashing import verify_sha256
from outreach.releases import SLOTS, Slot, read_pointer, release_file, slot_of
from outreach.settings import Settings
from outreach.topics import MODEL_UPDATES
from schemas.codec import AvroCodec
from schemas.records import ModelRelease
from workers import metrics
from workers.heads import head_cut_of, report_head
from generation.batched_generator import BatchedGenerator
from generation.engine import Generator
from generation.model import ModelInfo

log = logging.getLogger(__name__)

EventHook = Callable[[dict[str, Any]], None]
# Pointer re-read interval: heals a missed announcement (broker outage, a crash between a
# publish's pointer write and its announcement) within a minute, for two Redis GETs a minute.
RESYNC_S = 60.0


@dataclass(eq=False)
class LoadedModel:
    """A loaded generator, the identity drafts record, and the settings it runs with (a release
    uses the trained prompt; the configured model whatever settings.model says)."""

    generator: Generator | BatchedGenerator
    model: ModelInfo
    settings: Settings
    release: ModelRelease | None = None
    owned: bool = True  # False: the caller's generator; the holder never closes it
    leases: int = 0
    retired: bool = False
    closed: bool = False

    @property
    def release_id(self) -> str | None:
        return self.release["release_id"] if self.release else None

    def close(self) -> None:
        if self.owned and not self.closed:
            self.closed = True
            self.generator.close()
            log.info("closed model %s %s", self.model.model_id, self.model.version)


class ModelHolder:
    """The champion and challenger slots of one worker, shared by its request threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._slots: dict[str, LoadedModel] = {}

    def get(self, slot: Slot) -> LoadedModel | None:
        with self._lock:
            return self._slots.get(slot)

    @contextlib.contextmanager
    def lease(self, slot: Slot = "champion") -> Iterator[LoadedModel]:
        """The model of ``slot`` (the champion while no challenger is loaded), kept open until
        the ``with`` block ends."""
        with self._lock:
            loaded = self._slots.get(slot) or self._slots.get("champion")
            if loaded is None:
                raise ModelError("no model is loaded")
            loaded.leases += 1
        try:
            yield loaded
        finally:
            with self._lock:
                loaded.leases -= 1
                close = loaded.retired and loaded.leases == 0
            if close:
                loaded.close()

    def install(self, slot: Slot, loaded: LoadedModel) -> None:
        """Put ``loaded`` in ``slot``; the model it replaces closes after its last lease."""
        self._replace({slot: loaded})
        report_head(loaded.settings.worker.tier, slot, loaded.model)

    def remove(self, slot: Slot) -> None:
        self._replace({slot: None})

    def move(self, src: Slot, dst: Slot) -> None:
        """The model of ``src`` serves ``dst`` instead (a promotion: no reload)."""
        with self._lock:
            loaded = self._slots.get(src)
        if loaded is not None:
            self._replace({dst: loaded, src: None})
            report_head(loaded.settings.worker.tier, dst, loaded.model)

    def close(self) -> None:
        self._replace({slot: None for slot in SLOTS})

    def _replace(self, changes: dict[str, LoadedModel | None]) -> None:
        with self._lock:
            before = set(self._slots.values())
            for slot, loaded in changes.items():
                if loaded is None:
                    self._slots.pop(slot, None)
                else:
                    self._slots[slot] = loaded
            gone = before - set(self._slots.values())
            for old in gone:
                old.retired = True
            idle = [old for old in gone if old.leases == 0]
        for old in idle:  # outside the lock: closing a batch engine joins its thread
            old.close()


def open_generator(model: ModelInfo, settings: Settings,
                   slots: int) -> Generator | BatchedGenerator:
    """The engine a worker runs ``model`` on: the batched one for several slots or for a head
    cut (model.trimmed_path: only it serves one), else llama-cpp-python's ``Llama``."""
    if slots > 1 or model.trimmed_path is not None:
        return BatchedGenerator(model, settings)
    return Generator(model, settings)


def release_settings(settings: Settings, slots: int) -> Settings:
    """``settings`` as a released model runs: merged weights (no adapter; the release's own
    head cut, if any, is set by ``load_release``), the trained prompt, and as many batch slots
    as the worker's loop runs at once."""
    copy = settings.model_copy(deep=True)
    copy.model.lora_path = None
    # A trim is cut from one network: the operator's trim of the configured base would run
    # that base's weights in place of the release's.
    copy.model.trimmed_path = None
    copy.model.prompt_style = "trained"
    copy.model.batch_slots = max(1, slots)
    return copy


def load_release(settings: Settings, release: ModelRelease, slots: int) -> LoadedModel:
    """Resolve, verify (sha256 of the whole file) and load a release; raises RegistryError or
    ModelError, leaving nothing loaded."""
    path = release_file(settings, release)
    actual = verify_sha256(path, release["sha256"], f"release {release['release_id']}")
    run = release_settings(settings, slots)
    run.model.gguf_path = path
    cut = head_cut_of(settings, release)
    run.model.trimmed_path = cut.path if cut else None
    run.model.model_id = release["model_id"]
    run.model.model_version = release["model_version"]
    model = ModelInfo(path=path, model_id=release["model_id"], sha256=actual,
                      version=release["model_version"], trimmed_path=run.model.trimmed_path,
                      trimmed_sha256=cut.sha256 if cut else None)
    generator = open_generator(model, run, slots)
    return LoadedModel(generator=generator, model=model, settings=run, release=release)


class ReleaseFollower:
    """Keeps a ModelHolder on the releases of ``settings.worker.tier`` (see the module doc).

    ``prepare`` (start position + pointers, synchronous) then ``start`` (the thread). Events go
    to ``on_event`` from the follower's thread: kind "model_loaded" or "model_error".
    """

    def __init__(self, settings: Settings, holder: ModelHolder, slots: int,
                 on_event: EventHook | None = None,
                 loader: Callable[[Settings, ModelRelease, int], LoadedModel] = load_release
                 ) -> None:
        self.settings = settings
        self.tier = settings.worker.tier
        self.holder = holder
        self.slots = slots
        self.on_event = on_event
        self.loader = loader
        self.codec = AvroCodec(registry_url=settings.kafka.schema_registry_url)
        # 5 s timeouts: a hung Redis must not stall the worker's start or the follower thread
        # (redis-py waits forever by default); a pointer read takes ~1 ms on a healthy one.
        self.redis = (redis.Redis.from_url(settings.redis_url, socket_timeout=5,
                                           socket_connect_timeout=5)
                      if settings.redis_url else None)
        self.consumer: Consumer | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # Releases whose file failed verification: the minutely resync does not re-hash them
        # (253 MB to 4 GB each time); a new announcement of the same release is still tried.
        self._refused: set[tuple[str, str]] = set()

    def prepare(self) -> None:
        """Fix the model.updates start offsets, then load the releases the pointers name."""
        group = f"{self.settings.kafka.group_prefix}-reload-{self.tier}-{uuid.uuid4().hex[:12]}"
        try:
            ensure_topics(self.settings, [MODEL_UPDATES])
            self.consumer = Consumer(consumer_config(self.settings, group,
                                                     **{"auto.offset.reset": "latest"}))
            meta = self.consumer.list_topics(MODEL_UPDATES, timeout=10).topics[MODEL_UPDATES]
            ends = []
            for partition in sorted(meta.partitions):
                tp = TopicPartition(MODEL_UPDATES, partition)
                ends.append(TopicPartition(MODEL_UPDATES, partition,
                                           self.consumer.get_watermark_offsets(tp, timeout=10)[1]))
            self.consumer.assign(ends)
        except (KafkaException, KafkaError) as exc:
            # Serving goes on; the pointers are still read at start and every RESYNC_S.
            log.error("cannot follow %s, reading the release pointers only: %s",
                      MODEL_UPDATES, exc)
            self._close_consumer()
        self.sync_pointers()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"reload-{self.tier}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self._close_consumer()
        if self.redis is not None:
            self.redis.close()

    def sync_pointers(self) -> None:
        """Apply the tier's pointers: load what they name, drop a challenger that is gone."""
        if self.redis is None:
            return
        for slot in SLOTS:
            try:
                # The pointer holds the ModelRelease the registry validated and wrote.
                release = cast("ModelRelease | None",
                               read_pointer(self.redis, self.settings, self.tier, slot))
            except RegistryError as exc:
                log.error("cannot read the %s %s pointer: %s", self.tier, slot, exc)
                continue
            if release is not None and (release["release_id"], release["uri"]) in self._refused:
                log.debug("pointer names refused release %s: not retried", release["release_id"])
            elif release is not None:
                self.apply(release)
            elif slot == "challenger" and self.holder.get("challenger") is not None:
                log.info("the %s challenger pointer is gone: challenger traffic goes to the "
                         "champion", self.tier)
                self.holder.remove("challenger")

    def apply(self, release: ModelRelease) -> bool:
        """Serve ``release`` in its slot; True when it serves (now or already)."""
        if release.get("tier") != self.tier:
            return False
        slot = slot_of(release)
        current = self.holder.get(slot)
        if current is not None and current.release_id == release["release_id"] \
                and current.model.sha256 == release["sha256"]:
            return True  # already serving it (an announcement of a pointer read at start)
        challenger = self.holder.get("challenger")
        if slot == "champion" and challenger is not None \
                and challenger.release_id == release["release_id"] \
                and challenger.model.sha256 == release["sha256"]:
            self.holder.move("challenger", "champion")  # promotion: the model is loaded already
            self._report("model_loaded", release, slot, seconds=0.0, promoted=True)
            return True
        started = time.perf_counter()
        try:
            loaded = self.loader(self.settings, release, self.slots)
        except (ModelError, RegistryError) as exc:
            serving = current.model.version if current else None
            log.error("release %s (%s %s) refused, still serving %s: %s", release["release_id"],
                      self.tier, slot, serving, exc)
            kind = ("sha256_mismatch" if isinstance(exc, Sha256Mismatch) else
                    "fetch_failed" if isinstance(exc, RegistryError) else "load_failed")
            if isinstance(exc, Sha256Mismatch):
                self._refused.add((release["release_id"], release["uri"]))
            self._report("model_error", release, slot, error_type=kind, error=str(exc),
                         serving_version=serving)
            return False
        self.holder.install(slot, loaded)
        self._report("model_loaded", release, slot, seconds=time.perf_counter() - started,
                     head_cut=loaded.model.trimmed_path is not None)
        log.info("now serving %s %s: %s %s (release %s)", self.tier, slot, release["model_id"],
                 release["model_version"], release["release_id"])
        return True

    def _run(self) -> None:
        next_sync = time.monotonic() + RESYNC_S
        while not self._stop.is_set():
            try:
                if self.consumer is None:
                    self._stop.wait(1.0)
                else:
                    self._poll_once()
                if time.monotonic() >= next_sync:
                    next_sync = time.monotonic() + RESYNC_S
                    self.sync_pointers()
            except Exception:  # noqa: BLE001 - thread boundary: a bug here must not end
                # following silently while the worker goes on serving an old model.
                log.exception("release follower error (still following)")
                self._stop.wait(1.0)

    def _poll_once(self) -> None:
        try:
            msg = self.consumer.poll(0.5)
        except KafkaException as exc:
            log.warning("polling %s failed (retrying): %s", MODEL_UPDATES, exc)
            self._stop.wait(1.0)
            return
        if msg is None or msg.error():
            if msg is not None:
                log.warning("%s consumer error (retried by librdkafka): %s", MODEL_UPDATES,
                            msg.error())
            return
        try:
            release = self.codec.decode(msg.value(), "ModelRelease")
        except SchemaError as exc:
            log.error("unreadable record on %s[%d]@%d skipped: %s", MODEL_UPDATES,
                      msg.partition(), msg.offset(), exc)
            return
        if release["tier"] == self.tier and not self._stale(release):
            self.apply(release)

    def _stale(self, release: ModelRelease) -> bool:
        """An announcement older than the pointer it changed (a worker that read the pointers
        after two quick publishes sees the first announcement after the second pointer): the
        pointer is the truth. No pointer (or no Redis) = trust the announcement."""
        if self.redis is None:
            return False
        try:
            pointer = read_pointer(self.redis, self.settings, self.tier, slot_of(release))
        except RegistryError as exc:
            log.warning("cannot check the pointer of %s, applying it: %s",
                        release["release_id"], exc)
            return False
        if pointer is not None and pointer["release_id"] != release["release_id"]:
            log.info("skipping announcement of %s: the %s pointer names %s", release["release_id"],
                     slot_of(release), pointer["release_id"])
            return True
        return False

    def _report(self, kind: str, release: ModelRelease, slot: str, **extra: Any) -> None:
        result = {"model_loaded": "loaded"}.get(kind, extra.get("error_type", "failed"))
        metrics.MODEL_RELOADS.labels(tier=self.tier, slot=slot, result=result).inc()
        if self.on_event is None:
            return
        event = {"kind": kind, "tier": self.tier, "slot": slot, "role": release["role"],
                 "release_id": release["release_id"], "model_id": release["model_id"],
                 "model_version": release["model_version"], "sha256": release["sha256"], **extra}
        try:
            self.on_event(event)
        except Exception:  # a failing hook must not stop the follower thread
            log.exception("on_event hook failed for %s", kind)

    def _close_consumer(self) -> None:
        if self.consumer is not None:
            with contextlib.suppress(KafkaException, RuntimeError):
                self.consumer.close()
            self.consumer = None
