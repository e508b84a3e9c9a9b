"""confluent-kafka clients configured one way for the whole project."""

from __future__ import annotations

import logging
from typing import Any

from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from outreach.errors import ConfigError, KafkaError
from outreach.settings import Settings
from outreach.topics import TOPIC_CONFIGS, TOPIC_PARTITIONS

log = logging.getLogger(__name__)


def _bootstrap(settings: Settings) -> str:
    if not settings.kafka_bootstrap_servers:
        raise ConfigError("KAFKA_BOOTSTRAP_SERVERS is not set and no embedded stack is running; "
                          "run `outreach up` or set it")
    return settings.kafka_bootstrap_servers


def producer_config(settings: Settings, **extra: Any) -> dict[str, Any]:
    # Idempotent producer: retries never duplicate a record within a partition; acks=all
    # is implied. linger.ms=5 batches bursts of drafts without adding visible latency.
    return {"bootstrap.servers": _bootstrap(settings), "enable.idempotence": True,
            "linger.ms": 5, **extra}


def consumer_config(settings: Settings, group_id: str, **extra: Any) -> dict[str, Any]:
    # Offsets are committed by hand only after outputs are acknowledged (at-least-once).
    return {"bootstrap.servers": _bootstrap(settings), "group.id": group_id,
            "enable.auto.commit": False, "auto.offset.reset": "earliest",
            "session.timeout.ms": settings.kafka.session_timeout_ms,
            "heartbeat.interval.ms": settings.kafka.heartbeat_interval_ms, **extra}


def make_producer(settings: Settings, **extra: Any) -> Producer:
    try:
        return Producer(producer_config(settings, **extra))
    except KafkaException as exc:
        raise KafkaError(f"cannot create producer: {exc}") from exc


def ensure_topics(settings: Settings, topics: list[str], timeout_s: float = 15.0) -> list[str]:
    """Create missing topics; returns the ones created. Existing topics are left alone.

    Topics named in outreach.topics.TOPIC_CONFIGS get their settings (``campaigns`` is created
    compacted) and TOPIC_PARTITIONS their partition count; the rest kafka.partitions."""
    admin = AdminClient({"bootstrap.servers": _bootstrap(settings)})
    try:
        existing = set(admin.list_topics(timeout=timeout_s).topics)
    except KafkaException as exc:
        raise KafkaError(f"cannot reach Kafka at {settings.kafka_bootstrap_servers}: {exc}") from exc
    missing = [t for t in topics if t not in existing]
    if not missing:
        return []
    futures = admin.create_topics(
        [NewTopic(t, num_partitions=TOPIC_PARTITIONS.get(t, settings.kafka.partitions),
                  replication_factor=1, config=TOPIC_CONFIGS.get(t, {}))
         for t in missing], operation_timeout=timeout_s)
    created = []
    for topic, future in futures.items():
        try:
            future.result(timeout=timeout_s)
            created.append(topic)
        except KafkaException as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise KafkaError(f"cannot create topic {topic}: {exc}") from exc
    log.info("created topics: %s", ", ".join(created))
    return created


def produce_sync(producer: Producer, topic: str, value: bytes, key: bytes | str | None = None,
                 timeout_s: float = 30.0) -> None:
    """Produce one record and wait for the broker's acknowledgement (raises on failure)."""
    errors: list[Any] = []
    producer.produce(topic, value=value, key=key,
                     on_delivery=lambda err, msg: errors.append(err) if err else None)
    remaining = producer.flush(timeout_s)
    if errors or remaining:
        raise KafkaError(f"delivery to {topic} failed: {errors[0] if errors else 'timeout'}")
