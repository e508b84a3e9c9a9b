"""Run the pipeline's services as child processes and watch what comes out of it.

Each service (intake, a worker per tier, the sender) is its own process, as in production:
Faust owns its event loop and signal handlers, and llama.cpp inference never shares a loop
with the stream processor. Used by `outreach demo` and by the integration tests.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from confluent_kafka import Consumer, KafkaException

from outreach.errors import KafkaError, OutreachError, SchemaError
from outreach.kafka import consumer_config
from outreach.settings import Settings, plain_data
from outreach.topics import DRAFTS, LEADS, LEADS_JSON, dlq, requests_topic
from schemas.codec import AvroCodec
from schemas.records import DeadLetter, EmailDraft


@dataclass
class Services:
    """Child processes started with the stack's connection settings in their environment."""

    settings: Settings
    log_dir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        env = dict(os.environ, KAFKA_BOOTSTRAP_SERVERS=self.settings.kafka_bootstrap_servers or "",
                   REDIS_URL=self.settings.redis_url or "", PYTHONUNBUFFERED="1")
        env.update(self.extra_env)
        return env

    def settings_file(self) -> Path:
        """The parent's effective settings, so children see exactly what the parent sees."""
        path = self.log_dir / "settings.yaml"
        if not path.exists():
            # Connections travel as KAFKA_BOOTSTRAP_SERVERS / REDIS_URL in the environment.
            # Secrets in clear (plain_data): a JSON dump would hand the child "**********".
            data = plain_data(self.settings, exclude={"kafka_bootstrap_servers", "redis_url"})
            path.touch(mode=0o600)  # it holds the secrets: readable by this user only
            path.write_text(yaml.safe_dump(data))
        return path

    def start(self, command: str, *args: str, name: str | None = None) -> subprocess.Popen:
        """Start ``outreach <command> --config <settings file> <args>`` as a child process."""
        name = name or command
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = (self.log_dir / f"{name}.log").open("ab")
        argv = [sys.executable, "-m", "apps.cli", command, "--config",
                str(self.settings_file()), *args]
        proc = subprocess.Popen(argv, env=self.env(),
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.procs[name] = proc
        return proc

    def share_cores(self, processes: int) -> None:
        """Give each of ``processes`` llama.cpp workers its own share of the cores.

        llama.cpp's threads spin-wait for each other: two 2-thread workers on 2 cores ran at a
        fraction of one 1-thread worker each (2 threads fell to 0.4 tok/s beside a busy
        process, 1 thread held 21 tok/s), so co-located workers must not oversubscribe.
        """
        if self.settings.model.n_threads is None and processes > 1:
            cores = max(1, (os.cpu_count() or 1) // processes)
            self.extra_env.setdefault("OUTREACH_MODEL__N_THREADS", str(cores))

    def kill(self, name: str) -> None:
        """SIGKILL: no clean-up, no commit; what a crashed host looks like to Kafka."""
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise OutreachError(f"service {name} exited with code {proc.returncode}; "
                                    f"see {self.log_dir / (name + '.log')}")

    def stop(self, timeout_s: float = 20.0) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()


@dataclass
class Outcomes:
    drafts: dict[str, EmailDraft] = field(default_factory=dict)  # by draft_id
    draft_records: int = 0  # including redelivered duplicates
    failed_requests: dict[str, DeadLetter] = field(default_factory=dict)  # by request_id
    intake_dead_letters: list[DeadLetter] = field(default_factory=list)
    undecodable: int = 0

    def leads_with_outcome(self) -> set[str]:
        return ({d["lead_id"] for d in self.drafts.values()}
                | {d["lead_id"] for d in self.failed_requests.values() if d["lead_id"]})


class OutcomeWatcher:
    """Reads email.drafts and the dead-letter topics from the beginning, with its own group."""

    TOPICS = [DRAFTS, dlq(requests_topic("small")), dlq(LEADS), dlq(LEADS_JSON)]

    def __init__(self, settings: Settings, codec: AvroCodec | None = None) -> None:
        self.codec = codec or AvroCodec(registry_url=settings.kafka.schema_registry_url)
        self.outcomes = Outcomes()
        try:
            self._consumer = Consumer(consumer_config(
                settings, f"{settings.kafka.group_prefix}-watch-{uuid.uuid4().hex[:8]}"))
            self._consumer.subscribe(self.TOPICS)
        except KafkaException as exc:
            raise KafkaError(f"cannot watch outcome topics: {exc}") from exc

    def poll(self, timeout_s: float = 0.5) -> int:
        """Read what is available now; returns the number of records read."""
        read = 0
        for msg in self._consumer.consume(num_messages=500, timeout=timeout_s):
            if msg.error():
                continue
            read += 1
            try:
                if msg.topic() == DRAFTS:
                    record = self.codec.decode(msg.value(), "EmailDraft")
                else:
                    letter = self.codec.decode(msg.value(), "DeadLetter")
            except SchemaError:
                # Not ours to dead-letter: the sender does that for email.drafts. Count it.
                self.outcomes.undecodable += 1
                continue
            if msg.topic() == DRAFTS:
                self.outcomes.draft_records += 1
                self.outcomes.drafts[record["draft_id"]] = record
            else:
                if letter["stage"] == "intake":
                    self.outcomes.intake_dead_letters.append(letter)
                else:
                    self.outcomes.failed_requests[letter["request_id"] or str(msg.offset())] = letter
        return read

    def close(self) -> None:
        self._consumer.close()
