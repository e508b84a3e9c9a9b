"""Fixtures of the worker tests: the real model (loaded once per session) and a fresh stack.

No mocks: the model is the real Gemma 3 270M GGUF; Kafka and Redis are the embedded stack's
real broker and redis-server on free ports (outreach.stack).
"""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

import pytest

from outreach.settings import Settings, load_settings
from outreach.stack import embedded_stack
from tests.support.worker_helpers import untuned_base


@pytest.fixture
def offline_settings() -> Settings:
    """Settings for tests that need no broker: the untuned base model with the few-shot prompt."""
    return untuned_base(load_settings())


@pytest.fixture(scope="session")
def model_info():
    from generation.model import resolve_model

    return resolve_model(untuned_base(load_settings()))


@pytest.fixture(scope="session")
def generator(model_info):
    pytest.importorskip("llama_cpp")
    from generation.engine import Generator

    with Generator(model_info, untuned_base(load_settings())) as loaded:
        yield loaded


@pytest.fixture(scope="module")
def worker_settings(tmp_path_factory):
    """Settings bound to a stack of this test module's own, so it can count every record."""
    base = load_settings(config_file=None, **{"kafka.group_prefix": f"wt-{uuid.uuid4().hex[:8]}"})
    # Ignore connection settings from the developer's shell: the test owns its stack.
    base = base.model_copy(update={"kafka_bootstrap_servers": None, "redis_url": None})
    with embedded_stack(base, tmp_path_factory.mktemp("worker-stack")) as stack:
        yield untuned_base(base.with_connections(stack.bootstrap_servers, stack.redis_url))


@pytest.fixture(scope="session")
def llm_base_url():
    """One real llama_cpp.server (the untuned base) for every LLM-tier test of the session."""
    pytest.importorskip("llama_cpp.server")
    from generation.llama_server import llama_server
    from generation.model import default_model_path

    with tempfile.TemporaryDirectory(prefix="llm-test-server-") as tmp, \
            llama_server(default_model_path(), Path(tmp) / "server.log") as server:
        yield server.base_url
