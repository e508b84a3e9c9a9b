"""The Faust intake process through a Redis outage: the batch waits, nothing is lost.

The issue's measurement, repeated: Redis stopped, leads produced, Redis restarted 10 s later on
the same port. Before, the 5 leads got neither a request nor a dead letter. Now every one is
routed exactly once and the intake process never dies.
"""

import subprocess
import time

import pytest

from apps.campaigns import publish_campaign
from apps.pipeline import Services
from outreach.kafka import make_producer
from outreach.leadgen import generate, to_json
from outreach.stack import start_redis
from schemas.codec import AvroCodec
from tests.streams.test_app import collect
from tests.support.worker_helpers import sample_campaign

pytestmark = pytest.mark.integration


def test_leads_produced_during_a_redis_outage_are_all_routed(settings, unique, tmp_path):
    url, proc = start_redis(settings, tmp_path)
    port = url.rsplit(":", 1)[1].split("/")[0]
    local = settings.with_connections(settings.kafka_bootstrap_servers, url)
    campaign = f"out-{unique}"
    publish_campaign(local, sample_campaign(campaign_id=campaign))
    leads = generate(5, seed=21, campaign=campaign, suppressed=0).leads
    services = Services(local, tmp_path / "svc")
    services.start("stream", name="intake")
    codec, restarted = AvroCodec(), None
    try:
        warm = generate(1, seed=22, campaign=campaign, suppressed=0).leads[0]
        warm["lead_id"] = f"warm-{unique}"
        producer = make_producer(local)
        producer.produce("leads.json", key=warm["lead_id"], value=to_json(warm))
        producer.flush(10)

        def mine(msgs):
            return [r for r in (codec.decode(m.value(), "GenerationRequest") for m in msgs)
                    if r["lead"]["campaign"] == campaign]

        assert mine(collect(local, ["email.requests.small", "email.requests.large"],
                            lambda got: len(mine(got)) >= 1, timeout_s=120))  # intake is up
        proc.terminate()
        proc.wait(10)
        for lead in leads:
            producer.produce("leads.json", key=lead["lead_id"], value=to_json(lead))
        producer.flush(10)
        time.sleep(10)
        services.check_alive()
        restarted = subprocess.Popen(["redis-server", "--port", port, "--bind", "127.0.0.1",
                                      "--save", "", "--appendonly", "no"],
                                     stdout=subprocess.DEVNULL)
        want = {lead["lead_id"] for lead in leads}
        got = mine(collect(local, ["email.requests.small", "email.requests.large"],
                           lambda got: want <= {r["lead"]["lead_id"] for r in mine(got)},
                           timeout_s=120))
        services.check_alive()
    finally:
        services.stop()
        if restarted is not None:
            restarted.terminate()
            restarted.wait(10)
    routed = [r["lead"]["lead_id"] for r in got if r["lead"]["lead_id"] in want]
    assert sorted(set(routed)) == sorted(want)
    log = (tmp_path / "svc" / "intake.log").read_text()
    assert "nothing acknowledged" in log  # the batch was retried, not dropped
