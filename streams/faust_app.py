"""The one Faust App builder: every faust-streaming service of the project (intake, feedback)
gets the same broker list, in-memory tables and short group timeouts."""

from __future__ import annotations

import faust

from outreach.settings import Settings


def faust_app(settings: Settings, name: str) -> faust.App:
    """A Faust app named ``<group_prefix>-<name>`` (its consumer group), with no web server."""
    return faust.App(
        f"{settings.kafka.group_prefix}-{name}",
        broker=[f"kafka://{server}" for server in settings.kafka_bootstrap_servers.split(",")],
        store="memory://",
        web_enabled=False,
        topic_partitions=settings.kafka.partitions,
        consumer_auto_offset_reset="earliest",
        # Group joins on the embedded broker: 31 s to the first message with Faust's defaults,
        # 4 s with these (measured, design.md); harmless on a real cluster.
        broker_session_timeout=settings.kafka.session_timeout_ms / 1000,
        broker_heartbeat_interval=settings.kafka.heartbeat_interval_ms / 1000,
        broker_rebalance_timeout=10.0,
        broker_commit_interval=1.0,
    )
