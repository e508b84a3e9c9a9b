"""The contact cap across two campaigns, where the send is decided: the real mail sender (its
gate) over the real broker and Redis, an embedded SMTP sink, and the scheduler re-publishing
the drafts the cap deferred.

Every contact sits in two 2-step campaigns whose first emails are drafted in the same instant
(the issue's "two emails within the same minute"); with a cap of one email in 3 days, each
contact's four emails must leave at least 3 virtual days apart, and none may be lost.
"""

from __future__ import annotations

import collections
import threading
import time

import pytest
from confluent_kafka import Consumer, TopicPartition

from mail import run_sender, smtp_sink
from outreach.kafka import consumer_config, ensure_topics
from outreach.settings import SequenceSettings, Settings
from outreach.topics import DRAFTS, all_topics, requests_topic
from schemas.campaign import Step
from sequences.cap import ContactCap
from sequences.clock import DAY_MS
from sequences.scheduler import Scheduler
from seq_support import StandInWorker, first_request, lead, produce

pytestmark = pytest.mark.integration

CONTACTS = 12
DAY_REAL_S = 1.5  # slow enough that a loaded machine's send delays stay well under a day
CAP_DAYS = 3.0
STEPS = (Step(delay_business_days=0), Step(delay_business_days=1, brief="a short bump"))


def sender_starts_at_end(settings: Settings) -> None:
    """The session broker holds other tests' drafts: the sender group starts after them."""
    consumer = Consumer(consumer_config(settings, f"{settings.kafka.group_prefix}-sender"))
    try:
        parts = consumer.list_topics(DRAFTS, timeout=10).topics[DRAFTS].partitions
        ends = [TopicPartition(DRAFTS, p, consumer.get_watermark_offsets(
            TopicPartition(DRAFTS, p), timeout=10)[1]) for p in parts]
        consumer.commit(offsets=ends, asynchronous=False)
    finally:
        consumer.close()


def test_one_email_per_contact_in_three_days_across_two_campaigns(
        settings: Settings, unique: str, tmp_path) -> None:
    cfg = SequenceSettings(clock_speed=86_400 / DAY_REAL_S, clock_epoch_ms=int(time.time() * 1000),
                           tick_s=0.1, contact_cap_days=CAP_DAYS)
    settings = settings.model_copy(update={"sequences": cfg})
    ensure_topics(settings, all_topics())
    sender_starts_at_end(settings)
    campaigns = (f"capa-{unique}", f"capb-{unique}")
    steps = {c: STEPS for c in campaigns}
    sent_at: dict[str, list[int]] = collections.defaultdict(list)

    cap = ContactCap(settings)

    def on_sent(draft) -> None:
        # The session's broker also holds earlier tests' drafts: count this test's only.
        if draft["campaign"] in campaigns:
            # When the gate took the slot: the send decision the cap spaces. (The clock at
            # on_sent runs after SMTP and the commit: 255 ms later at load 7 on 2 cores.)
            sent_at[draft["to_email"]].append(cap.held_at(draft["to_email"],
                                                           draft["request_id"]))

    with smtp_sink(tmp_path / "sink") as sink:
        settings = sink.configure(settings)
        worker = StandInWorker(settings, set(campaigns))
        worker.start()
        scheduler = Scheduler(settings, lambda cid: steps.get(cid, ()))
        stop = threading.Event()
        threads = [threading.Thread(target=scheduler.run, args=(stop,), daemon=True),
                   threading.Thread(target=run_sender, args=(settings, stop),
                                    kwargs={"on_sent": on_sent}, daemon=True)]
        for thread in threads:
            thread.start()
        try:
            produce(settings, requests_topic("small"), "GenerationRequest",
                    [first_request(lead(f"c{unique}-{i}", campaign, f"c{i}@{unique}.example"))
                     for i in range(CONTACTS) for campaign in campaigns], key="request_id")
            deadline = time.monotonic() + 150
            while sum(map(len, sent_at.values())) < CONTACTS * 4:
                assert time.monotonic() < deadline, f"sent so far: {dict(sent_at)}"
                time.sleep(0.2)
            time.sleep(CAP_DAYS * DAY_REAL_S)  # a wrongly allowed fifth email would show now
        finally:
            stop.set()
            for thread in threads:
                thread.join(30)
            scheduler.close()
            worker.close()
        eml = sum(1 for msg in sink.messages() if unique in str(msg["To"]))

    assert len(sent_at) == CONTACTS and eml == CONTACTS * 4
    assert all(t is not None for times in sent_at.values() for t in times)  # all slots held
    gaps = [later - earlier for times in sent_at.values()
            for earlier, later in zip(sorted(times), sorted(times)[1:])]
    assert all(len(times) == 4 for times in sent_at.values())
    assert min(gaps) >= CAP_DAYS * DAY_MS, min(gaps) / DAY_MS
    assert scheduler.stats.redelivered_drafts >= CONTACTS  # every second first email waited
    print(f"\n{CONTACTS} contacts x 2 campaigns x 2 steps: {eml} emails, shortest gap "
          f"{min(gaps) / DAY_MS:.2f} virtual days (cap {CAP_DAYS}), "
          f"{scheduler.stats.redelivered_drafts} drafts deferred by the cap and re-published")
