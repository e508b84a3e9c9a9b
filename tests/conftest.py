"""Shared fixtures: one real embedded stack (Tansu broker + redis-server on free ports) per run.

Tests never touch a shared Redis or broker: the stack's processes are children of the test
session and die with it. Tests that share the stack use unique campaign/lead ids.
"""

from __future__ import annotations

import uuid

import pytest

from outreach.settings import Settings, load_settings
from outreach.stack import embedded_stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    base = load_settings(config_file=None, **{"kafka.partitions": 3})
    # Ignore connection settings from the developer's shell: tests own their stack.
    base = base.model_copy(update={"kafka_bootstrap_servers": None, "redis_url": None})
    with embedded_stack(base, tmp_path_factory.mktemp("stack")) as running:
        yield running


@pytest.fixture()
def settings(stack) -> Settings:
    """Settings bound to the test stack, with a unique Kafka group/Redis prefix per test."""
    tag = uuid.uuid4().hex[:8]
    base = load_settings(**{"kafka.group_prefix": f"test-{tag}", "redis.key_prefix": f"t{tag}",
                            "redis.suppression_key": f"t{tag}:suppression"})
    return base.with_connections(stack.bootstrap_servers, stack.redis_url)


@pytest.fixture()
def unique() -> str:
    return uuid.uuid4().hex[:8]


# Files whose tests take longest (fresh-clone run 2026-12-07, two workers: 40-120 s each) go first, so
# the two xdist workers do not end on one long file while the other idles (loadfile hands out
# files in collection order). A file missing here keeps its place after them.
LONGEST_FIRST = (
    "tests/releases/test_retrain_cycle.py", "tests/apps/test_pipeline.py",
    "tests/workers/test_hot_reload.py", "tests/apps/test_chaos.py",
    "tests/quantize/test_convert_quantize.py",
    "tests/streams/test_feedback_app.py", "tests/workers/test_worker_campaigns.py",
    "tests/generation/test_default_model_campaign.py", "tests/generation/test_campaign_prefix.py",
    "tests/generation/test_head_cut.py", "tests/workers/test_llm_worker.py",
    "tests/workers/test_ladder.py", "tests/generation/test_engine_real.py",
    "tests/quantize/test_merge.py", "tests/workers/test_worker_kafka.py",
)


def pytest_collection_modifyitems(items):
    rank = {path: index for index, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))


# The real-model fixtures (generation, workers, bench tests) and the tiny-model fixtures
# (quantize, releases tests) are shared across test folders, so they are plugins, not conftests.
pytest_plugins = ["tests.support.model_fixtures", "tests.support.quantize_fixtures"]
