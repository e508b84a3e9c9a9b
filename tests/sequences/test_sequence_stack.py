"""Issue 25's proof on the real embedded stack (broker + Redis): 320 three-step sequences with
simulated engagement, the scheduler stopped mid-run and replaced by two that share its group.

Checked: no step after a reply, unsubscribe, bounce or complaint; an out-of-office does not
stop; every expected step is drafted exactly once (nothing lost, nothing doubled across the
restart) and each follow-up request is on its topic once; crm.updates carries every outcome
once per event id, ESP retries included.
"""

from __future__ import annotations

import collections
from dataclasses import astuple
import random
import threading
import time

import pytest

from outreach.kafka import ensure_topics
from outreach.settings import SequenceSettings, Settings
from outreach.step_funnel import funnel_key, parse
from outreach.topics import CRM_UPDATES, DRAFTS, all_topics, requests_topic
from schemas.campaign import Step
from schemas.crm import crm_codec
from outreach.campaign_log import CampaignLog
from sequences.clock import DAY_MS, Clock, add_business_days
from sequences.scheduler import Scheduler, steps_from_topic
from tests.support.campaigns import publish_example
from sequences.state import SequenceStore
from seq_support import CODEC, StandInWorker, first_request, lead, produce, read_topic

pytestmark = pytest.mark.integration

N = 320
DAY_REAL_S = 0.5  # one virtual day in real seconds
STEPS = (Step(delay_business_days=0), Step(delay_business_days=2, brief="a short bump"),
         Step(delay_business_days=3, brief="a last note"))
STOPS = [("REPLIED", "Thanks, not interested at the moment."),
         ("REPLIED", "Sounds interesting, can we talk on Thursday?"),
         ("UNSUBSCRIBED", ""), ("BOUNCED", ""), ("COMPLAINED", "")]
OUT_OF_OFFICE = "I am out of the office until next Monday with limited access to email."


def fast(settings: Settings, **changes) -> Settings:
    cfg = SequenceSettings(clock_speed=86_400 / DAY_REAL_S,
                           clock_epoch_ms=int(time.time() * 1000), tick_s=0.1, **changes)
    return settings.model_copy(update={"sequences": cfg})


def make_plan(leads: list[str], seed: int = 25) -> tuple[dict, dict[str, int]]:
    """plan[lead] = [(step, type, text)] and the number of steps each lead must get."""
    rng = random.Random(seed)
    plan, expected = {}, {}
    for lead_id in leads:
        roll = rng.random()
        if roll < 0.45:  # stops at step 1 or 2
            step = 1 if roll < 0.25 else 2
            etype, text = rng.choice(STOPS)
            plan[lead_id], expected[lead_id] = [(step, etype, text)], step
        elif roll < 0.65:  # out-of-office at step 1 (or 2): must not stop
            plan[lead_id], expected[lead_id] = [(rng.choice((1, 2)), "REPLIED", OUT_OF_OFFICE)], 3
        else:
            plan[lead_id], expected[lead_id] = [], 3
    return plan, expected


def test_300_sequences_stop_on_reply_survive_a_restart(settings: Settings, unique: str) -> None:
    settings = fast(settings)
    ensure_topics(settings, all_topics())
    campaign = f"seq-{unique}"
    leads = [lead(f"l{unique}-{i}", campaign, f"p{i}@{unique}.example") for i in range(N)]
    plan, expected = make_plan([item["lead_id"] for item in leads])
    publish_example(settings, campaign, steps=STEPS)  # the steps come from the campaigns topic
    table = CampaignLog(settings, lambda raw: CODEC.decode(raw, "Campaign")).start(30)
    steps_of = steps_from_topic(table)
    assert len(steps_of(campaign)) == 3
    worker = StandInWorker(settings, {campaign}, plan)
    worker.start()

    first = Scheduler(settings, steps_of)
    stop_first = threading.Event()
    runner = threading.Thread(target=first.run, args=(stop_first,), daemon=True)
    runner.start()
    # In its group before the first drafts (joining takes ~3 s on the embedded broker): the
    # lateness printed below is then the gate's, not the join's.
    wait_for(first.assigned, 30, "the first scheduler's partitions")
    produce(settings, requests_topic("small"), "GenerationRequest",
            [first_request(item) for item in leads], key="request_id")
    follow_ups = sum(n - 1 for n in expected.values())
    wait_for(lambda: first.stats.requested >= follow_ups * 0.4, 60, "first scheduler's share")
    stop_first.set()  # mid-run: the successor takes over the same group and Redis state
    runner.join(30)
    first.close()
    taken_by_first = first.stats.requested
    assert 0 < taken_by_first < follow_ups

    # Two successors in the same group: each reads its share of the partitions and both take
    # due steps from the one Redis, requested only as far as every partition is read.
    successors = [Scheduler(settings, steps_of) for _ in range(2)]
    stop_second = threading.Event()
    runners = [threading.Thread(target=s.run, args=(stop_second,), daemon=True)
               for s in successors]
    for runner in runners:
        runner.start()
    store = SequenceStore(settings)
    try:
        wait_for(lambda: settled(store, settings, campaign) == N, 90, "every sequence settled")
        time.sleep(3 * DAY_REAL_S)  # anything wrongly scheduled would now be requested
    finally:
        stop_second.set()
        for runner in runners:
            runner.join(30)
        for successor in successors:
            successor.close()
        worker.close()
        store.close()
        table.close()
    # Both gates opened (whichever ticks first takes the steps due by then: leases in Redis).
    assert all(s.stats.ticks > 0 for s in successors), [s.stats for s in successors]
    taken_by_successors = sum(s.stats.requested for s in successors)

    ours = lambda record: record.get("campaign", record.get("lead", {}).get("campaign")) == campaign
    drafts = read_topic(settings, DRAFTS, "EmailDraft", ours)
    steps_by_lead = collections.defaultdict(set)
    for draft in drafts:
        steps_by_lead[draft["lead_id"]].add(int(draft["step"]))
    wrong = {lead_id: sorted(steps_by_lead[lead_id]) for lead_id, n in expected.items()
             if steps_by_lead[lead_id] != set(range(1, n + 1))}
    assert not wrong, f"{len(wrong)} sequences with lost or extra steps: " + str(
        [(k, v, plan[k], expected[k]) for k, v in list(wrong.items())[:8]])

    stopped = {lead_id for lead_id, events in plan.items()
               if events and events[0][2] != OUT_OF_OFFICE}
    after_stop = [d for d in drafts if d["lead_id"] in stopped
                  and int(d["step"]) > plan[d["lead_id"]][0][0]]
    assert len(stopped) >= 100 and after_stop == []
    # each stop the issue names: a reply (two classes), an unsubscribe, a bounce, a complaint
    assert {plan[lead_id][0][1] for lead_id in stopped} == {
        "REPLIED", "UNSUBSCRIBED", "BOUNCED", "COMPLAINED"}
    ooo = [lead_id for lead_id, events in plan.items() if events and events[0][2] == OUT_OF_OFFICE]
    assert len(ooo) >= 40 and all(steps_by_lead[lead_id] == {1, 2, 3} for lead_id in ooo)

    requests = read_topic(settings, requests_topic("small"), "GenerationRequest",
                          lambda r: r["lead"]["campaign"] == campaign and int(r["step"]) > 1)
    per_id = collections.Counter(r["request_id"] for r in requests)
    assert len(per_id) == follow_ups_expected(expected) == taken_by_first + taken_by_successors
    assert max(per_id.values()) == 1, "a follow-up request was produced twice"

    check_crm(settings, campaign, plan, expected, drafts, worker.sent_events)
    store = SequenceStore(settings)
    try:  # the dashboard's funnel per step: exact, across the restart and the ESP retries
        funnel = parse(store.redis.hgetall(funnel_key(settings.redis.key_prefix, campaign)))
    finally:
        store.close()
    assert [astuple(row) for row in funnel] == expected_funnel(plan, expected)
    late = sorted(lateness_days(settings, drafts, requests))
    p50, p90 = late[len(late) // 2], late[int(len(late) * 0.9)]
    print(f"\nlateness (virtual days): p50 {p50:.2f} p90 {p90:.2f} max {late[-1]:.2f}")
    print(f"\n{N} sequences: {len(stopped)} stopped, {len(ooo)} out-of-office kept going, "
          f"{len(drafts)} drafts, {len(per_id)} follow-up requests "
          f"({taken_by_first} before the restart), 0 after a stop, 0 duplicated")


def follow_ups_expected(expected: dict[str, int]) -> int:
    return sum(n - 1 for n in expected.values())


def check_crm(settings: Settings, campaign: str, plan: dict, expected: dict[str, int],
              drafts: list[dict], events: list[dict]) -> None:
    updates = read_topic(settings, CRM_UPDATES, "CrmUpdate",
                         lambda r: r["campaign_id"] == campaign, codec=crm_codec())
    per_id = collections.Counter(u["event_id"] for u in updates)
    assert max(per_id.values()) == 1, "an outcome is on crm.updates twice"
    by_type = collections.Counter(u["type"] for u in updates)
    assert by_type["SENT"] == len({d["draft_id"] for d in drafts})
    assert by_type["SEQUENCE_FINISHED"] == len(expected)  # one per sequence
    reported = {u["source_event_id"] for u in updates if u["type"] != "SENT"}
    assert {e["event_id"] for e in events} <= reported  # every outcome, retries once
    finished = {u["lead_id"]: u["reason"] for u in updates if u["type"] == "SEQUENCE_FINISHED"}
    for lead_id, events_planned in plan.items():
        stops = events_planned and events_planned[0][2] != OUT_OF_OFFICE
        want = events_planned[0][1].lower() if stops else "completed"
        assert finished[lead_id] == want, (lead_id, finished[lead_id], want)
    classes = {u["reply_class"] for u in updates if u["type"] == "REPLIED"}
    assert "out_of_office" in classes and len(classes) >= 2


def expected_funnel(plan: dict, expected: dict[str, int]) -> list[tuple[int, ...]]:
    """(step, sent, replied, auto_replied, stopped, finished) per step, from the plan."""
    rows = {step: [step, 0, 0, 0, 0, 0] for step in (1, 2, 3)}
    for lead_id, n in expected.items():
        for step in range(1, n + 1):
            rows[step][1] += 1
        for step, etype, text in plan[lead_id]:
            if etype == "REPLIED":
                rows[step][2] += 1
                rows[step][3] += text == OUT_OF_OFFICE
            if text != OUT_OF_OFFICE:
                rows[step][4] += 1
        if n == 3 and all(text == OUT_OF_OFFICE for _s, _e, text in plan[lead_id]):
            rows[3][5] += 1
    return [tuple(row) for row in rows.values()]


def lateness_days(settings: Settings, drafts: list[dict], requests: list[dict]) -> list[float]:
    """Per follow-up request: virtual days between its step falling due (the previous draft's
    time plus the step's business days) and the scheduler requesting it."""
    clock = Clock.from_settings(settings.sequences)
    written = {(d["lead_id"], int(d["step"])): d["created_at"] for d in drafts}
    late = []
    for request in requests:
        step = int(request["step"])
        due = add_business_days(clock.virtual(written[(request["lead"]["lead_id"], step - 1)]),
                                STEPS[step - 1].delay_business_days,
                                settings.sequences.business_days)
        late.append((clock.virtual(request["routed_at"]) - due) / DAY_MS)
    return late


def settled(store: SequenceStore, settings: Settings, campaign: str) -> int:
    """Sequences of ``campaign`` that are finished or stopped."""
    done = 0
    for key in store.redis.scan_iter(match=f"{store.prefix}:s:*", count=1000):
        status, owner = store.redis.hmget(key, "status", "campaign")
        if owner == campaign.encode() and status in (b"finished", b"stopped"):
            done += 1
    return done


def wait_for(condition, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)
