"""The model registry against the real embedded stack (redis-server + broker) and, for s3://,
a real S3 HTTP server (moto's ThreadedMotoServer): blobs, manifests, pointers, announcements.

The GGUFs here are small files with a GGUF header: the registry stores and hashes bytes and
never parses them (the worker tests load a real model from it).
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition

from outreach.errors import RegistryError
from outreach.kafka import consumer_config
from outreach.hashing import file_sha256
from outreach.releases import history_key, read_pointer, release_file
from outreach.topics import MODEL_UPDATES
from releases.registry import DirStore, Registry, gate_metrics
from schemas.codec import AvroCodec

pytestmark = pytest.mark.integration

MANIFEST = {"base": {"path": "gemma-3-270m-q4_k_m.gguf", "sha256": "a5fd3b62"},
            "recipe": {"name": "lora-gemma3-270m", "r": 8}, "quant_type": "Q4_K_M",
            "dataset": {"sha256": "c6f01a13"}}
GATE = {"passed": True, "candidate": {"rubric": 0.97, "pass_rate": 1.0},
        "champion": {"rubric": 0.95, "pass_rate": 0.9}, "perplexity_increase": 0.03}


def fake_gguf(path: Path, payload: bytes) -> Path:
    path.write_bytes(b"GGUF\x03\x00\x00\x00" + payload)
    return path


@pytest.fixture()
def registry_settings(settings, tmp_path):
    copy = settings.model_copy(deep=True)
    copy.registry.uri = str(tmp_path / "registry")
    return copy


def announcements(settings, release_ids: set[str], timeout_s: float = 20.0) -> list[dict]:
    """The ModelRelease records of ``release_ids`` on model.updates, in topic order per
    partition (the stack is shared: other tests' releases are skipped)."""
    codec = AvroCodec()
    consumer = Consumer(consumer_config(settings, f"reader-{uuid.uuid4().hex[:8]}"))
    parts = consumer.list_topics(MODEL_UPDATES, timeout=10).topics[MODEL_UPDATES].partitions
    consumer.assign([TopicPartition(MODEL_UPDATES, p, 0) for p in parts])
    found: list[dict] = []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline and {r["release_id"] for r in found} < release_ids:
            msg = consumer.poll(0.5)
            if msg is not None and not msg.error():
                record = codec.decode(msg.value(), "ModelRelease")
                if record["release_id"] in release_ids:
                    found.append(record)
        # 1 s more: a duplicate announcement would show up here.
        end = time.monotonic() + 1
        while time.monotonic() < end:
            msg = consumer.poll(0.2)
            if msg is not None and not msg.error():
                record = codec.decode(msg.value(), "ModelRelease")
                if record["release_id"] in release_ids:
                    found.append(record)
    finally:
        consumer.close()
    return found


def test_publish_stores_blob_and_manifest_points_and_announces(registry_settings, tmp_path):
    gguf = fake_gguf(tmp_path / "mini.gguf", b"weights-v1" * 1000)
    with Registry(registry_settings) as registry:
        record = registry.publish(gguf, MANIFEST, tier="small", role="CHAMPION",
                                  model_id="mini-Q4_K_M", model_version="mini-run1",
                                  gate_report=GATE)
        sha = file_sha256(gguf)
        root = Path(registry_settings.registry.uri).resolve()
        blob = root / "blobs" / "sha256" / f"{sha}.gguf"
        assert record["uri"] == str(blob) and blob.read_bytes() == gguf.read_bytes()
        assert not blob.stat().st_mode & 0o222  # read-only: blobs are immutable
        assert record["sha256"] == sha and record["role"] == "CHAMPION"
        assert record["quant_type"] == "Q4_K_M" and record["base_model"] == "gemma-3-270m-q4_k_m.gguf"
        assert record["metrics"] == {"candidate.rubric": 0.97, "candidate.pass_rate": 1.0,
                                     "champion.rubric": 0.95, "champion.pass_rate": 0.9,
                                     "perplexity_increase": 0.03}
        manifest = json.loads(Path(record["manifest_uri"]).read_text())
        assert manifest["release"] == record and manifest["recipe"] == MANIFEST["recipe"]
        assert manifest["dataset"] == {"sha256": "c6f01a13"} and manifest["gate"] == GATE
        assert json.loads((Path(record["manifest_uri"]).parent / "gate.json").read_text()) == GATE
        assert registry.current("small") == {"champion": record, "challenger": None}
        assert registry.history("small") == [record]
        assert registry.fetch(record) == blob and registry.fetch(record["release_id"]) == blob
        assert [m["release"] for m in registry.list_releases()] == [record]
    assert announcements(registry_settings, {record["release_id"]}) == [record]


def test_same_gguf_twice_is_one_blob_and_blobs_are_never_overwritten(registry_settings,
                                                                     tmp_path):
    gguf = fake_gguf(tmp_path / "mini.gguf", b"same-weights" * 500)
    with Registry(registry_settings) as registry:
        first = registry.publish(gguf, MANIFEST, "small", "CHAMPION", "mini", "v1")
        blob = Path(first["uri"])
        inode = blob.stat().st_ino
        second = registry.publish(gguf, MANIFEST, "small", "CHALLENGER", "mini", "v2")
        assert second["uri"] == first["uri"] and second["release_id"] != first["release_id"]
        assert len(list(blob.parent.iterdir())) == 1 and blob.stat().st_ino == inode
        assert registry.current("small") == {"champion": first, "challenger": second}

        # A damaged blob is refused by fetch and never replaced by a publish of the good bytes.
        blob.chmod(0o644)
        data = bytearray(blob.read_bytes())
        data[len(data) // 2] ^= 0xFF
        blob.write_bytes(bytes(data))
        with pytest.raises(RegistryError, match="hashes to"):
            registry.fetch(first)
        with pytest.raises(RegistryError, match="damaged"):
            registry.publish(gguf, MANIFEST, "small", "CHALLENGER", "mini", "v3")
        assert blob.read_bytes() == bytes(data)
        assert registry.current("small")["challenger"] == second  # the pointer did not move
    with pytest.raises(RegistryError, match="already exists"):
        DirStore(registry_settings.registry.uri).put_release(first["release_id"], {"x": b"y"})


def test_promote_and_rollback_move_the_pointer_and_announce(registry_settings, tmp_path):
    with Registry(registry_settings) as registry:
        with pytest.raises(RegistryError, match="no challenger"):
            registry.promote("large")
        c1 = registry.publish(fake_gguf(tmp_path / "1.gguf", b"one"), MANIFEST, "large",
                              "CHAMPION", "mini", "v1")
        c2 = registry.publish(fake_gguf(tmp_path / "2.gguf", b"two"), MANIFEST, "large",
                              "CHAMPION", "mini", "v2")
        x = registry.publish(fake_gguf(tmp_path / "3.gguf", b"three"), MANIFEST, "large",
                             "CHALLENGER", "mini", "v3")
        promoted = registry.promote("large")
        assert promoted == {**x, "role": "CHAMPION"}
        assert registry.current("large") == {"champion": promoted, "challenger": None}
        back = registry.rollback("large")
        assert back == {**c2, "role": "ROLLBACK"} and registry.current("large")["champion"] == back
        assert registry.rollback("large") == {**c1, "role": "ROLLBACK"}
        with pytest.raises(RegistryError, match="no earlier champion"):
            registry.rollback("large")
        assert len(registry.history("large")) == 6
        assert [m["release"]["model_version"] for m in registry.list_releases()] == \
            ["v1", "v2", "v3"]
        with pytest.raises(RegistryError, match="tier"):
            registry.publish(tmp_path / "1.gguf", MANIFEST, "llm", "CHAMPION", "mini", "v9")
    ids = {c1["release_id"], c2["release_id"], x["release_id"]}
    roles = [(r["model_version"], r["role"]) for r in announcements(registry_settings, ids)]
    # One tier's announcements share a partition (key = tier), so they arrive in order.
    assert roles == [("v1", "CHAMPION"), ("v2", "CHAMPION"), ("v3", "CHALLENGER"),
                     ("v3", "CHAMPION"), ("v2", "ROLLBACK"), ("v1", "ROLLBACK")]
    import redis

    client = redis.Redis.from_url(registry_settings.redis_url)
    assert client.llen(history_key(registry_settings, "large")) == 6
    assert read_pointer(client, registry_settings, "large", "champion")["model_version"] == "v1"


def test_gate_metrics_flattens_numbers_only():
    assert gate_metrics(None) == {}
    assert gate_metrics({"passed": True, "reasons": ["x"], "a": {"b": 1, "c": False}}) == \
        {"a.b": 1.0}
    assert gate_metrics({"metrics": {"rubric": 0.9}, "other": 5}) == {"rubric": 0.9}


def test_s3_registry_on_a_real_s3_server(registry_settings, tmp_path, monkeypatch):
    pytest.importorskip("boto3")
    moto_server = pytest.importorskip("moto.server")
    from outreach.s3 import client
    from outreach.stack import free_port

    # moto accepts any credentials; boto3 refuses to sign without some.
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                        ("AWS_DEFAULT_REGION", "us-east-1")):
        monkeypatch.setenv(name, value)
    port = free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        settings = registry_settings.model_copy(deep=True)
        settings.registry.uri = "s3://models/outreach"
        settings.registry.s3_endpoint_url = f"http://127.0.0.1:{port}"
        settings.registry.cache_dir = tmp_path / "cache"
        s3 = client(settings)
        s3.create_bucket(Bucket="models")
        gguf = fake_gguf(tmp_path / "mini.gguf", b"s3-weights" * 2000)
        sha = file_sha256(gguf)
        with Registry(settings) as registry:
            first = registry.publish(gguf, MANIFEST, "small", "CHAMPION", "mini", "v1",
                                     gate_report=GATE)
            second = registry.publish(gguf, MANIFEST, "small", "CHALLENGER", "mini", "v2")
            key = f"outreach/blobs/sha256/{sha}.gguf"
            assert first["uri"] == second["uri"] == f"s3://models/{key}"
            blobs = s3.list_objects_v2(Bucket="models", Prefix="outreach/blobs/")["Contents"]
            assert [b["Key"] for b in blobs] == [key]
            assert [m["release"] for m in registry.list_releases()] == [first, second]
            manifest = json.loads(s3.get_object(Bucket="models", Key=first["manifest_uri"][
                len("s3://models/"):])["Body"].read())
            assert manifest["gate"] == GATE and manifest["release"]["sha256"] == sha

            path = registry.fetch(first)  # downloaded into the cache, verified
            assert path == tmp_path / "cache" / f"{sha}.gguf"
            assert path.read_bytes() == gguf.read_bytes()
            assert release_file(settings, second) == path  # the workers' helper: cache hit

            # The object is replaced behind the registry's back: the download is refused.
            s3.put_object(Bucket="models", Key=key, Body=b"GGUF tampered")
            path.unlink()
            with pytest.raises(RegistryError, match="not the announced"):
                registry.fetch(first)
            assert not any((tmp_path / "cache").iterdir())  # no partial file left behind
    finally:
        server.stop()


def test_a_head_cut_is_stored_beside_its_release_with_its_trim_manifest(registry_settings,
                                                                         tmp_path):
    """The release's trim (releases/head_cut.py) becomes a second blob, its trim manifest (the
    kept ids the head cut reads) beside it, and the release manifest names it; workers resolve
    it from there (tests/workers/test_heads.py)."""
    from workers.heads import head_cut_of

    gguf = fake_gguf(tmp_path / "release.gguf", b"release weights")
    trim = fake_gguf(tmp_path / "release-trim32k.gguf", b"trimmed weights")
    kept = {"kind": "vocab-trim", "recipe": {"kept_ranges": "0-9"},
            "inputs": {"source": {"sha256": file_sha256(gguf)}}}
    (tmp_path / "release-trim32k.gguf.manifest.json").write_text(json.dumps(kept))
    with Registry(registry_settings) as registry:
        record = registry.publish(gguf, MANIFEST, "small", "CHALLENGER", "mini", "v1",
                                  head_cut=trim)
        plain = registry.publish(fake_gguf(tmp_path / "plain.gguf", b"plain"), MANIFEST, "small",
                                 "CHALLENGER", "mini", "v2")
    manifest = json.loads(Path(record["manifest_uri"]).read_text())
    cut = manifest["head_cut"]
    assert cut["sha256"] == file_sha256(trim) and cut["uri"] != record["uri"]
    assert json.loads(Path(cut["uri"] + ".manifest.json").read_text()) == kept
    assert head_cut_of(registry_settings, record).path == Path(cut["uri"])
    assert json.loads(Path(plain["manifest_uri"]).read_text())["head_cut"] is None
    assert head_cut_of(registry_settings, plain) is None
