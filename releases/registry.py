"""The model registry: content-addressed GGUF blobs, one manifest per release, the current
release of each tier as a Redis pointer, and every change announced on model.updates.

Store layout (a directory by default, or s3://bucket/prefix; settings.registry.uri):
    blobs/sha256/<hex>.gguf              each distinct GGUF once; never overwritten
    releases/<release_id>/manifest.json  the ModelRelease fields + the caller's manifest + gate
    releases/<release_id>/gate.json      the gate report, when one is given
Pointers and history: outreach/releases.py (the contract workers read).

A publish runs blob -> manifest -> pointer + history (one Redis transaction) -> announcement
(idempotent producer, acknowledged). A crash before the pointer leaves an unreferenced blob
and manifest (harmless); a crash after it leaves workers that start later on the new release
and running workers on the old one until their next pointer resync (workers/reload.py) or
``announce``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Any, Literal, cast

import redis

from outreach.errors import KafkaError, RegistryError, SchemaError
from outreach.kafka import ensure_topics, make_producer, produce_sync
from outreach.hashing import file_sha256, verify_sha256
from outreach.s3 import require_sha256
from outreach.releases import (Slot, history_key, is_s3, local_file, pointer_key,
                               read_pointer, release_file, slot_of, to_json)
from outreach.settings import Settings
from outreach.store import sync_client
from outreach.topics import MODEL_UPDATES
from releases.head_cut import store_cut
from schemas.codec import AvroCodec
from schemas.records import ModelRelease

log = logging.getLogger(__name__)

PublishRole = Literal["CHAMPION", "CHALLENGER"]
# The llm tier is an OpenAI-compatible endpoint: it has no GGUF to release.
GGUF_TIERS = ("small", "large")


class DirStore:
    """The registry in a local (or network-mounted) directory."""

    def __init__(self, root: str) -> None:
        self.root = local_file(root).resolve()

    def blob_uri(self, sha256: str) -> str:
        sha256 = require_sha256(sha256)  # the digest names a path
        return str(self.root / "blobs" / "sha256" / f"{sha256}.gguf")

    def put_blob(self, src: Path, sha256: str) -> tuple[str, bool]:
        """Store ``src`` under its digest; returns (uri, created). An existing blob is checked,
        never replaced."""
        final = Path(self.blob_uri(sha256))
        if final.exists():
            if file_sha256(final) != sha256:
                raise RegistryError(f"blob {final} is damaged (its bytes no longer hash to its "
                                    "name); remove it by hand after checking the releases using it")
            return str(final), False
        part = final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}.part")
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, part)
            if file_sha256(part) != sha256:
                raise RegistryError(f"{src} changed while it was copied into the registry")
            part.chmod(0o444)  # a blob is immutable; read-only guards against edits in place
            try:
                # link() fails if the name exists: two concurrent publishers of the same GGUF
                # cannot overwrite each other, and the loser's identical copy is dropped.
                os.link(part, final)
                created = True
            except FileExistsError:
                created = False
        except OSError as exc:
            raise RegistryError(f"cannot store {src} in {final.parent}: {exc}") from exc
        finally:
            part.unlink(missing_ok=True)
        return str(final), created

    def manifest_uri(self, release_id: str) -> str:
        return str(self.root / "releases" / release_id / "manifest.json")

    def put_release(self, release_id: str, files: dict[str, bytes]) -> None:
        """Write a release's files into a new folder (never into an existing one)."""
        folder = self.root / "releases" / release_id
        try:
            folder.parent.mkdir(parents=True, exist_ok=True)
            folder.mkdir()
            for name, data in files.items():
                (folder / name).write_bytes(data)
        except FileExistsError as exc:
            raise RegistryError(f"release {release_id} already exists in {self.root}") from exc
        except OSError as exc:
            raise RegistryError(f"cannot write release {release_id}: {exc}") from exc

    def manifests(self) -> list[dict[str, Any]]:
        found = []
        for path in sorted((self.root / "releases").glob("*/manifest.json")):
            try:
                found.append(json.loads(path.read_text()))
            except (OSError, ValueError) as exc:
                raise RegistryError(f"cannot read {path}: {exc}") from exc
        return found


class S3Store:
    """The registry in an S3-compatible bucket (boto3, the optional ``s3`` extra)."""

    def __init__(self, settings: Settings) -> None:
        from outreach import s3

        self._s3 = s3
        self.uri = settings.registry.uri.rstrip("/")
        self.bucket, self.prefix = s3.split_uri(self.uri)
        self.client = s3.client(settings)

    def _key(self, *parts: str) -> str:
        return "/".join(p for p in (self.prefix, *parts) if p)

    def blob_uri(self, sha256: str) -> str:
        sha256 = require_sha256(sha256)  # the digest names a key
        return f"s3://{self.bucket}/{self._key('blobs', 'sha256', sha256 + '.gguf')}"

    def _exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
            return True
        except self._s3.client_errors() as exc:
            if getattr(exc, "response", {}).get("Error", {}).get("Code") in ("404", "NoSuchKey"):
                return False
            raise RegistryError(f"cannot reach s3://{self.bucket}/{key}: {exc}") from exc

    def put_blob(self, src: Path, sha256: str) -> tuple[str, bool]:
        key = self._key("blobs", "sha256", f"{require_sha256(sha256)}.gguf")
        # Checked then written: two publishers racing on the same digest upload identical bytes.
        if self._exists(key):
            return self.blob_uri(sha256), False
        try:
            self.client.upload_file(str(src), self.bucket, key,
                                    ExtraArgs={"Metadata": {"sha256": sha256}})
        except (*self._s3.client_errors(), OSError) as exc:
            raise RegistryError(f"cannot upload {src} to s3://{self.bucket}/{key}: {exc}") from exc
        return self.blob_uri(sha256), True

    def manifest_uri(self, release_id: str) -> str:
        return f"s3://{self.bucket}/{self._key('releases', release_id, 'manifest.json')}"

    def put_release(self, release_id: str, files: dict[str, bytes]) -> None:
        if self._exists(self._key("releases", release_id, "manifest.json")):
            raise RegistryError(f"release {release_id} already exists in {self.uri}")
        try:
            for name, data in files.items():
                self.client.put_object(Bucket=self.bucket, Body=data,
                                       Key=self._key("releases", release_id, name))
        except self._s3.client_errors() as exc:
            raise RegistryError(f"cannot write release {release_id}: {exc}") from exc

    def manifests(self) -> list[dict[str, Any]]:
        found = []
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self._key("releases") + "/")
            for page in pages:
                for item in page.get("Contents", []):
                    if item["Key"].endswith("/manifest.json"):
                        body = self.client.get_object(Bucket=self.bucket, Key=item["Key"])["Body"]
                        found.append(json.loads(body.read()))
        except self._s3.client_errors() as exc:
            raise RegistryError(f"cannot list releases in {self.uri}: {exc}") from exc
        return found


def release_pointer(client: Any, settings: Settings, tier: str,
                    slot: Slot) -> ModelRelease | None:
    """read_pointer, typed: a pointer holds the ModelRelease ``publish`` validated and wrote
    (the foundation, which reads it, imports no schema)."""
    return cast("ModelRelease | None", read_pointer(client, settings, tier, slot))


def gate_metrics(report: dict[str, Any] | None) -> dict[str, float]:
    """The numbers of a gate report as the record's flat metrics map ("candidate.rubric": 0.97).
    Booleans (passed flags) are verdicts, not metrics, and are left out."""
    flat: dict[str, float] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{prefix}.{key}" if prefix else str(key))
        elif isinstance(node, (int, float)) and not isinstance(node, bool):
            flat[prefix] = float(node)

    if report:
        walk(report.get("metrics", report), "")
    return flat


def _base_name(manifest: dict[str, Any]) -> str:
    base = manifest.get("base_model", manifest.get("base"))
    if isinstance(base, dict):  # the training manifest's {"path", "sha256", "model_type"}
        base = base.get("name") or base.get("path") or base.get("sha256")
    return str(base) if base else "unknown"


def _quant_type(manifest: dict[str, Any]) -> str:
    quant = manifest.get("quant_type") or (manifest.get("quantize") or {}).get("quant_type")
    return str(quant) if quant else "unknown"


class Registry:
    """Publish, promote and roll back releases; look them up; fetch verified GGUFs."""

    def __init__(self, settings: Settings) -> None:
        if not settings.redis_url:
            raise RegistryError("the registry needs Redis for its pointers: set REDIS_URL")
        self.settings = settings
        self.store: DirStore | S3Store = (S3Store(settings) if is_s3(settings.registry.uri)
                                          else DirStore(settings.registry.uri))
        self.redis = sync_client(settings.redis_url)
        self.codec = AvroCodec(registry_url=settings.kafka.schema_registry_url)
        self._producer = None

    # -- writing -------------------------------------------------------------------------------

    def publish(self, gguf: Path, manifest: dict[str, Any], tier: str, role: PublishRole,
                model_id: str, model_version: str,
                gate_report: dict[str, Any] | None = None,
                head_cut: Path | None = None) -> ModelRelease:
        """Store ``gguf`` and its manifest, point the tier's slot at it, announce it; returns
        the ModelRelease record. ``head_cut``: a trim of ``gguf`` stored beside it, which
        workers serve it with (releases/head_cut.py; the manifest's ``head_cut`` names it)."""
        if tier not in GGUF_TIERS:
            raise RegistryError(f"tier {tier!r} has no GGUF releases (one of {GGUF_TIERS})")
        if role not in ("CHAMPION", "CHALLENGER"):
            raise RegistryError(f"publish role must be CHAMPION or CHALLENGER, not {role!r}")
        gguf = Path(gguf)
        if not gguf.is_file():
            raise RegistryError(f"{gguf} is not a file")
        sha256 = file_sha256(gguf)
        created_at = int(time.time() * 1000)
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(created_at / 1000))
        release_id = f"{tier}-{stamp}-{sha256[:8]}-{uuid.uuid4().hex[:4]}"
        record: ModelRelease = {
            "release_id": release_id, "tier": tier, "role": role, "model_id": model_id,
            "model_version": model_version, "uri": self.store.blob_uri(sha256),
            "sha256": sha256, "quant_type": _quant_type(manifest),
            "base_model": _base_name(manifest),
            "manifest_uri": self.store.manifest_uri(release_id),
            "metrics": gate_metrics(gate_report), "created_at": created_at}
        self._validate(record)  # before anything is written
        uri, created = self.store.put_blob(gguf, sha256)
        log.info("blob %s %s", uri, "stored" if created else "already present")
        cut = store_cut(self.store, Path(head_cut)) if head_cut is not None else {}
        files = {"manifest.json": json.dumps(
            {**manifest, "release": record,
             "size_bytes": gguf.stat().st_size, "head_cut": cut or None,
             "gate": gate_report if gate_report is not None else manifest.get("gate")}, indent=2,
            sort_keys=True, default=str).encode()}
        if gate_report is not None:
            files["gate.json"] = json.dumps(gate_report, indent=2, sort_keys=True,
                                            default=str).encode()
        self.store.put_release(release_id, files)
        self._point(record)
        self.announce(record)
        return record

    def promote(self, tier: str) -> ModelRelease:
        """The challenger becomes the champion (same release, role CHAMPION); the challenger
        slot is emptied."""
        def decide(pipe: Any) -> ModelRelease:
            challenger = release_pointer(pipe, self.settings, tier, "challenger")
            if challenger is None:
                raise RegistryError(f"tier {tier} has no challenger to promote")
            return {**challenger, "role": "CHAMPION"}

        record = self._transition(tier, decide, clear_challenger=True)
        self.announce(record)
        return record

    def rollback(self, tier: str) -> ModelRelease:
        """The champion before the current one serves again (announced as ROLLBACK)."""
        def decide(pipe: Any) -> ModelRelease:
            lineage = self._champions(pipe, tier)
            if len(lineage) < 2:
                raise RegistryError(f"tier {tier} has no earlier champion to roll back to")
            return {**lineage[-2], "role": "ROLLBACK"}

        record = self._transition(tier, decide, clear_challenger=False)
        self.announce(record)
        return record

    def announce(self, record: ModelRelease) -> None:
        """Produce ``record`` on model.updates and wait for the broker's acknowledgement.

        Keyed by tier, so one tier's announcements share a partition and arrive in order.
        """
        try:
            if self._producer is None:
                ensure_topics(self.settings, [MODEL_UPDATES])
                self._producer = make_producer(self.settings)
            value = self.codec.encode("ModelRelease", record, topic=MODEL_UPDATES)
            produce_sync(self._producer, MODEL_UPDATES, value, key=record["tier"])
        except (KafkaError, SchemaError) as exc:
            raise RegistryError(f"release {record['release_id']} is pointed to but its "
                                f"announcement failed ({exc}); running workers pick it up at "
                                "their next pointer resync, or call announce again") from exc
        log.info("announced %s %s of tier %s (%s)", record["role"], record["release_id"],
                 record["tier"], record["model_version"])

    # -- reading -------------------------------------------------------------------------------

    def current(self, tier: str) -> dict[str, ModelRelease | None]:
        return {slot: release_pointer(self.redis, self.settings, tier, slot)
                for slot in ("champion", "challenger")}

    def history(self, tier: str) -> list[ModelRelease]:
        """Every pointer change of ``tier``, newest first."""
        try:
            return [json.loads(raw) for raw in
                    self.redis.lrange(history_key(self.settings, tier), 0, -1)]
        except redis.RedisError as exc:
            raise RegistryError(f"cannot read the {tier} release history: {exc}") from exc

    def list_releases(self) -> list[dict[str, Any]]:
        """Every stored release's manifest, oldest first."""
        return sorted(self.store.manifests(), key=lambda m: m["release"]["created_at"])

    def fetch(self, release: ModelRelease | str) -> Path:
        """A local, verified copy of a release's GGUF (a record, or a release_id)."""
        if isinstance(release, str):
            found: list[ModelRelease] = [m["release"] for m in self.store.manifests()
                                         if m["release"]["release_id"] == release]
            if not found:
                raise RegistryError(f"no release {release} in {self.settings.registry.uri}")
            release = found[0]
        path = release_file(self.settings, release)
        verify_sha256(path, release["sha256"], f"release {release['release_id']}")
        return path

    def close(self) -> None:
        if self._producer is not None:
            self._producer.flush(10)
        self.redis.close()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals -----------------------------------------------------------------------------

    def _validate(self, record: ModelRelease) -> None:
        try:
            self.codec.validate("ModelRelease", record)
        except SchemaError as exc:
            raise RegistryError(f"invalid release record: {exc}") from exc

    def _point(self, record: ModelRelease) -> None:
        tier, value = record["tier"], to_json(record)
        try:
            with self.redis.pipeline(transaction=True) as pipe:
                pipe.set(pointer_key(self.settings, tier, slot_of(record)), value)
                pipe.lpush(history_key(self.settings, tier), value)
                pipe.execute()
        except redis.RedisError as exc:
            raise RegistryError(f"cannot point {tier} at {record['release_id']}: {exc}") from exc

    def _transition(self, tier: str, decide: Any, clear_challenger: bool) -> ModelRelease:
        """Read-decide-write on the tier's pointers atomically (WATCH/MULTI, retried when another
        promote/rollback/publish changed them meanwhile)."""
        keys = [pointer_key(self.settings, tier, slot) for slot in ("champion", "challenger")]
        keys.append(history_key(self.settings, tier))
        try:
            with self.redis.pipeline(transaction=True) as pipe:
                while True:
                    try:
                        pipe.watch(*keys)
                        record = decide(pipe)
                        value = to_json(record)
                        pipe.multi()
                        pipe.set(keys[0], value)
                        if clear_challenger:
                            pipe.delete(keys[1])
                        pipe.lpush(keys[2], value)
                        pipe.execute()
                        return record
                    except redis.WatchError:
                        continue
        except redis.RedisError as exc:
            raise RegistryError(f"cannot move the {tier} pointers: {exc}") from exc

    def _champions(self, client: Any, tier: str) -> list[ModelRelease]:
        """The champion lineage, oldest first: CHAMPION pushes, ROLLBACK pops back to the one
        before. The history is never trimmed, so the lineage can be replayed from it (a release
        a day is ~200 KB a year)."""
        lineage: list[ModelRelease] = []
        for raw in reversed(client.lrange(history_key(self.settings, tier), 0, -1)):
            entry = json.loads(raw)
            if entry["role"] == "CHAMPION":
                lineage.append(entry)
            elif entry["role"] == "ROLLBACK" and lineage:
                lineage.pop()
                if not lineage or lineage[-1]["release_id"] != entry["release_id"]:
                    lineage.append(entry)  # a history written by hand: trust the rollback
        return lineage
