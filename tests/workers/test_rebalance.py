"""Rebalances on the real embedded broker: two workers share a group, a third joins, one dies.

Three `outreach worker` processes (the real 270M model, the real consumer loop) in one
consumer group on a 3-partition topic (apps/chaos_rebalance.py, the same scenario as the
`outreach chaos --rebalance` row). A third member joining revokes partitions mid-generation:
the loop publishes and commits what is finished and leaves the rest to the new owner, so up
to the kill no request has a second record. A SIGKILL then hands the dead member's partitions
over after session.timeout.ms (6 s): redelivered requests are regenerated under the same
draft_id. Every request ends with exactly one distinct outcome.
"""

from __future__ import annotations

import pytest

from apps.chaos_rebalance import TOPIC, rebalance_requests, rebalance_run
from tests.support.worker_helpers import (CREATED_AT, committed_everything, sample_campaign,
                                          sample_leads)

pytestmark = [pytest.mark.integration, pytest.mark.slow]
REQUESTS = 18  # six per partition: every member has work in flight at each event


@pytest.fixture(scope="module", autouse=True)
def campaign(worker_settings):
    from apps.campaigns import publish_campaign

    return publish_campaign(worker_settings, sample_campaign())


def test_join_and_kill_lose_nothing_and_duplicate_nothing(worker_settings, tmp_path):
    leads = [dict(lead, lead_id=f"rb-{i}") for i, lead in
             enumerate((sample_leads() * 2)[:REQUESTS])]
    requests = rebalance_requests(leads, CREATED_AT)
    figures = rebalance_run(worker_settings, tmp_path / "logs", requests, timeout_s=500)
    print("rebalance figures:", figures)
    assert figures.requests == REQUESTS
    assert figures.lost == 0
    assert figures.duplicates == 0
    assert figures.records_before_kill == 0  # graceful join: not even a redelivered record
    assert figures.unknown_outcomes == 0
    assert set(figures.by_request) == {r["request_id"] for r in requests}
    # The events happened as the name says: the join revoked partitions from both running
    # members, and the killed member held partitions and died with requests still open.
    assert {"worker-a", "worker-b"} <= set(figures.revoked_members)
    assert figures.killed_had_partitions
    assert figures.outcomes_at_kill < REQUESTS
    assert figures.drafts + figures.dead_letters == REQUESTS
    assert figures.ok()
    assert committed_everything(worker_settings, TOPIC)
