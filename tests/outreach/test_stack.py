import os
import signal
import subprocess
import sys
import time

import pytest
import redis
from confluent_kafka.admin import AdminClient

from outreach.errors import StackError
from outreach.settings import load_settings
from outreach.stack import embedded_stack
from outreach.topics import all_topics

pytestmark = pytest.mark.integration


def test_missing_binaries_give_one_clear_line(tmp_path):
    settings = load_settings(**{"stack.redis_bin": "no-such-redis-server"})
    settings = settings.model_copy(update={"kafka_bootstrap_servers": None, "redis_url": None})
    with pytest.raises(StackError, match="apt-get install redis-server"):
        with embedded_stack(settings, tmp_path):
            pass
    settings = load_settings(**{"stack.broker_bin": str(tmp_path / "tansu")})
    settings = settings.model_copy(update={"kafka_bootstrap_servers": None, "redis_url": None})
    with pytest.raises(StackError, match="not an executable"):
        with embedded_stack(settings, tmp_path):
            pass


def test_existing_connections_are_used_instead_of_starting_anything(stack, tmp_path):
    settings = load_settings().with_connections(stack.bootstrap_servers, stack.redis_url)
    with embedded_stack(settings, tmp_path) as reused:
        assert reused.processes == []
        assert reused.bootstrap_servers == stack.bootstrap_servers


def test_outreach_up_starts_real_services_and_stops_on_ctrl_c(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in ("KAFKA_BOOTSTRAP_SERVERS", "REDIS_URL")}
    proc = subprocess.Popen([sys.executable, "-m", "apps", "up"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        exports = dict(proc.stdout.readline().strip().removeprefix("export ").split("=", 1)
                       for _ in range(2))
        bootstrap, url = exports["KAFKA_BOOTSTRAP_SERVERS"], exports["REDIS_URL"]
        assert redis.Redis.from_url(url).ping()
        topics = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10).topics
        assert set(all_topics()) <= set(topics)
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    time.sleep(0.2)
    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
