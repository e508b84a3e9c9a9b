"""S3-compatible object storage (AWS S3, MinIO, Ceph, moto) for the model registry.

boto3 is the optional ``s3`` extra and is imported only when a registry URI is s3://, so the
directory registry (the default) and the streaming path never need it. Credentials come from
boto3's own chain (environment, ~/.aws, instance role); the endpoint from
settings.registry.s3_endpoint_url (unset = AWS).
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path
from typing import Any

from outreach.errors import RegistryError
from outreach.hashing import file_sha256, verify_sha256
from outreach.settings import Settings


SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def require_sha256(value: object) -> str:
    """``value`` when it is 64 lowercase hex characters; RegistryError otherwise. A release
    record comes from a bucket or a topic, so a digest like "../../x" must never reach a path
    (it would name a file outside the cache folder)."""
    if not isinstance(value, str) or not SHA256_HEX.fullmatch(value):
        raise RegistryError(f"not a sha256 digest (64 lowercase hex characters): {value!r:.80}")
    return value


def split_uri(uri: str) -> tuple[str, str]:
    """s3://bucket/some/key -> ("bucket", "some/key")."""
    if not uri.startswith("s3://"):
        raise RegistryError(f"not an s3:// URI: {uri}")
    bucket, _, key = uri[len("s3://"):].partition("/")
    if not bucket:
        raise RegistryError(f"no bucket in {uri}")
    return bucket, key.strip("/")


def client(settings: Settings) -> Any:
    try:
        import boto3
    except ImportError as exc:
        raise RegistryError("an s3:// registry needs boto3: pip install "
                            "'miniature-outreach[s3]'") from exc
    return boto3.client("s3", endpoint_url=settings.registry.s3_endpoint_url)


def client_errors() -> tuple[type[BaseException], ...]:
    """What boto3 raises (network, credentials, HTTP errors): wrapped as RegistryError."""
    from botocore.exceptions import BotoCoreError, ClientError

    return BotoCoreError, ClientError


def download_blob(settings: Settings, uri: str, sha256: str) -> Path:
    """The GGUF at ``uri`` as a verified local file in settings.registry.cache_dir.

    Blobs are content-addressed, so the cache is keyed by sha256: a cached copy that still
    hashes right is reused (no download), a damaged one is downloaded again. The download goes
    to a temporary name and is renamed only after it verified, so a crash or a second worker
    never sees a half-written file under the final name.
    """
    sha256 = require_sha256(sha256)
    cache_dir = Path(settings.registry.cache_dir).expanduser()
    cached = cache_dir / f"{sha256}.gguf"
    if cached.is_file() and file_sha256(cached) == sha256:
        return cached
    bucket, key = split_uri(uri)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RegistryError(f"cannot create the model cache {cache_dir}: {exc}") from exc
    part = cache_dir / f".{sha256}.{uuid.uuid4().hex[:8]}.part"
    try:
        client(settings).download_file(bucket, key, str(part))
        verify_sha256(part, sha256, uri)
        os.replace(part, cached)
    except client_errors() as exc:
        raise RegistryError(f"cannot download {uri}: {exc}") from exc
    except OSError as exc:
        raise RegistryError(f"cannot store {uri} in {cache_dir}: {exc}") from exc
    finally:
        part.unlink(missing_ok=True)
    return cached
