"""Fixtures for the mail tests: an embedded stack of their own, a real aiosmtpd sink, and
settings whose sender group starts at the end of email.drafts.

The stack is this package's own (module scope, ~0.2 s to start) rather than the session one:
these tests put undecodable records on email.drafts on purpose, and other tests' watchers read
that topic from the beginning.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from mail import SinkInfo, smtp_sink
from outreach.settings import Settings, load_settings
from outreach.stack import embedded_stack

from mail_helpers import start_at_end


@pytest.fixture(scope="module")
def mail_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    # Connections from the developer's shell are ignored: the tests own their stack.
    base = load_settings().model_copy(update={"kafka_bootstrap_servers": None, "redis_url": None})
    with embedded_stack(base, tmp_path_factory.mktemp("mail-stack")) as stack:
        yield base.with_connections(stack.bootstrap_servers, stack.redis_url)


def isolated(stack_settings: Settings, sink: SinkInfo) -> Settings:
    """A consumer group and Redis keys no other test uses, the sender pointed at ``sink``."""
    tag = uuid.uuid4().hex[:8]
    settings = stack_settings.model_copy(update={
        "kafka": stack_settings.kafka.model_copy(update={"group_prefix": f"test-{tag}"}),
        "redis": stack_settings.redis.model_copy(update={
            "key_prefix": f"t{tag}", "suppression_key": f"t{tag}:suppression"})})
    return start_at_end(sink.configure(settings))


@pytest.fixture()
def sink(tmp_path: Path) -> Iterator[SinkInfo]:
    with smtp_sink(tmp_path / "sink") as info:
        yield info


@pytest.fixture()
def mail_settings(mail_stack: Settings, sink: SinkInfo) -> Settings:
    return isolated(mail_stack, sink)


@pytest.fixture(scope="module")
def module_sink(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SinkInfo]:
    with smtp_sink(tmp_path_factory.mktemp("sink")) as info:
        yield info


@pytest.fixture(scope="module")
def module_settings(mail_stack: Settings, module_sink: SinkInfo) -> Settings:
    """Like ``mail_settings`` for a whole module, so several tests can share one sender run
    (each run spends ~3 s joining its group on the embedded broker)."""
    return isolated(mail_stack, module_sink)
