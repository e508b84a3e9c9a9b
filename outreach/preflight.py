"""Can this process reach Kafka and Redis? Asked before loading a model, answered in one line.

A worker that cannot reach the broker used to load a 250 MB model, then fail deep inside
librdkafka with a traceback (or retry silently forever). A plain TCP connect to each address
takes milliseconds and says exactly what is wrong.
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from outreach.errors import ConfigError
from outreach.settings import Settings

CONNECT_TIMEOUT_S = 3.0


def _reachable(host: str, port: int) -> str | None:
    try:
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        return f"{host}:{port} ({exc.strerror or exc})"
    return None


def check_services(settings: Settings, kafka: bool = True, redis: bool = True) -> None:
    """Raise ConfigError naming what is unset or unreachable (every problem, one line)."""
    problems = []
    if kafka:
        servers = settings.kafka_bootstrap_servers
        if not servers:
            problems.append("Kafka: KAFKA_BOOTSTRAP_SERVERS is not set (start `outreach up`)")
        else:
            failures = []
            for server in servers.split(","):
                host, _, port = server.strip().rpartition(":")
                failure = _reachable(host.strip("[]") or "localhost", int(port or 9092))
                if failure is None:
                    break  # one reachable bootstrap server is enough
                failures.append(failure)
            else:
                problems.append(f"Kafka unreachable at {', '.join(failures)}")
    if redis:
        if not settings.redis_url:
            problems.append("Redis: REDIS_URL is not set (start `outreach up`)")
        else:
            parts = urlsplit(settings.redis_url)
            failure = _reachable(parts.hostname or "localhost", parts.port or 6379)
            if failure is not None:
                problems.append(f"Redis unreachable at {failure}")
    if problems:
        raise ConfigError("; ".join(problems))
