"""The release contract between quantize/ (writes) and workers/ (reads): Redis pointers.

A release is a ModelRelease record (schemas/avro/model_release.avsc). The registry stores the
GGUF (content-addressed) and its manifest; Redis holds, per tier, which release is the champion
and which the challenger; every change is announced on model.updates. Workers read the pointers
at start and follow model.updates afterwards, so a worker started after an announcement still
serves the current release.

    <prefix>:release:<tier>:champion     JSON ModelRelease (role CHAMPION or ROLLBACK)
    <prefix>:release:<tier>:challenger   JSON ModelRelease (role CHALLENGER)
    <prefix>:release:<tier>:history      LIST of JSON ModelRelease, newest first (every change)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import redis

from outreach.errors import RegistryError
from outreach.settings import Settings

Slot = Literal["champion", "challenger"]
SLOTS: tuple[Slot, ...] = ("champion", "challenger")


def slot_of(release: Mapping[str, Any]) -> Slot:
    """CHAMPION and ROLLBACK releases occupy the champion slot; CHALLENGER the challenger slot."""
    return "challenger" if release["role"] == "CHALLENGER" else "champion"


def pointer_key(settings: Settings, tier: str, slot: str) -> str:
    return f"{settings.redis.key_prefix}:release:{tier}:{slot}"


def history_key(settings: Settings, tier: str) -> str:
    return f"{settings.redis.key_prefix}:release:{tier}:history"


def read_pointer(client: redis.Redis, settings: Settings, tier: str,
                 slot: Slot) -> dict[str, Any] | None:
    """The release in ``slot`` of ``tier``, or None when none was released."""
    try:
        raw = client.get(pointer_key(settings, tier, slot))
    except redis.RedisError as exc:
        raise RegistryError(f"cannot read the {tier} {slot} pointer: {exc}") from exc
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise RegistryError(f"the {tier} {slot} pointer holds invalid JSON: {exc}") from exc


def to_json(release: Mapping[str, Any]) -> str:
    """The pointer/history encoding of a ModelRelease (created_at as epoch milliseconds)."""
    return json.dumps(release, sort_keys=True, separators=(",", ":"))


def is_s3(uri: str) -> bool:
    return uri.startswith("s3://")


def local_file(uri: str) -> Path:
    """The path of a directory-registry URI (a plain path or file://...)."""
    return Path(uri[len("file://"):] if uri.startswith("file://") else uri).expanduser()


def release_file(settings: Settings, release: Mapping[str, Any]) -> Path:
    """A local copy of the release's GGUF: the file itself for a directory registry, a download
    into settings.registry.cache_dir for s3://. The caller verifies the sha256 (outreach.hashing.verify_sha256)."""
    uri = release["uri"]
    # A release record comes off a topic: it may name only a file of the configured registry
    # (a release naming /home/x/.ssh/id_rsa or another bucket is refused before any read).
    root = settings.registry.uri
    if is_s3(uri):
        if not (is_s3(root) and uri.startswith(root.rstrip("/") + "/")):
            raise RegistryError(f"release {release.get('release_id')}: {uri} is outside the "
                                f"registry {root}")
        from outreach.s3 import download_blob  # boto3 is an optional extra

        return download_blob(settings, uri, release["sha256"])
    path = local_file(uri)
    if is_s3(root) or not path.resolve().is_relative_to(local_file(root).resolve()):
        raise RegistryError(f"release {release.get('release_id')}: {uri} is outside the "
                            f"registry {root}")
    if not path.is_file():
        raise RegistryError(f"release {release.get('release_id')}: {uri} is not a file")
    return path
