"""Two `outreach send` processes on the real embedded stack (broker + redis-server on free
ports) and a real SMTP sink: one mailbox's relay refuses every connection, two share the work.

Shows, at the sink: the daily cap and the minimum gap of each mailbox hold across the two
processes, and the follow-ups pinned to the failing mailbox are sent by the others after it is
paused.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from mail.smtp_sink import smtp_sink
from outreach.kafka import make_producer
from outreach.settings import Settings
from outreach.stack import free_port
from outreach.store import sync_client
from outreach.topics import DRAFTS
from sending.keys import prefix, steps_sent_key
from sending.mailboxes import MailboxBook
from sending.schedule import Schedule
from sequences.state import digest
from engine_support import CODEC, draft

pytestmark = pytest.mark.integration

CAP, GAP_S = 5, 1.5
# The sink stamps a message when it has it; two sends reserved GAP_S apart can reach it up to
# one SMTP exchange closer on a loaded machine (measured here: < 0.1 s).
GAP_SLACK_S = 0.3


def start_at_end(settings: Settings) -> None:
    """The session broker holds other tests' drafts: the sender group starts after them (the
    mail tests' helper, tests/mail/mail_helpers.py)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "mail"))
    from mail_helpers import start_at_end as commit_end

    commit_end(settings)


def test_caps_and_gaps_hold_across_two_processes_and_a_paused_mailbox_hands_over(
        settings: Settings, unique: str, tmp_path: Path) -> None:
    dead = free_port()
    with smtp_sink(tmp_path / "sink") as sink:
        boxes = [{"address": f"mb{n}@send.example", "display_name": f"Rep {n}",
                  "smtp_host": "127.0.0.1", "smtp_port": dead if n == 1 else sink.port,
                  "daily_cap": CAP, "min_gap_s": GAP_S} for n in (1, 2, 3)]
        config = tmp_path / "outreach.yaml"
        config.write_text(yaml.safe_dump({"sending": {
            "mailboxes": boxes, "hours": {"anytime": True}, "failures_to_pause": 2,
            "tick_s": 0.2}}))
        campaign = f"camp-{unique}"
        redis = sync_client(settings.redis_url or "")
        schedule = Schedule(redis, prefix(settings))
        follow_ups = [draft(unique, n, step=2) for n in range(6)]
        for record in follow_ups:  # threads mb1 started: their next steps are pinned to it
            schedule.pin(digest(record["lead_id"], campaign), "mb1@send.example")
            redis.hset(steps_sent_key(prefix(settings), digest(record["lead_id"], campaign)), "1",
                       int((time.time() - 3 * 86_400) * 1000))  # step 1 went out 3 days ago
        first = [draft(unique, n, step=1) for n in range(6, 12)]
        start_at_end(settings)
        producer = make_producer(settings)
        for record in follow_ups + first:
            producer.produce(DRAFTS, key=record["draft_id"], value=CODEC.encode("EmailDraft",
                                                                                 record))
        assert producer.flush(30) == 0
        env = dict(os.environ, KAFKA_BOOTSTRAP_SERVERS=settings.kafka_bootstrap_servers or "",
                   REDIS_URL=settings.redis_url or "",
                   OUTREACH_KAFKA__GROUP_PREFIX=settings.kafka.group_prefix,
                   OUTREACH_REDIS__KEY_PREFIX=settings.redis.key_prefix,
                   OUTREACH_REDIS__SUPPRESSION_KEY=settings.redis.suppression_key,
                   OUTREACH_SENDER__SMTP_HOST="127.0.0.1",
                   OUTREACH_SENDER__SMTP_PORT=str(sink.port))
        logs = [tmp_path / f"sender-{n}.log" for n in (1, 2)]
        procs = [subprocess.Popen([sys.executable, "-m", "apps", "send", "--config", str(config)],
                                  env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
                 for log in logs]
        try:
            deadline = time.monotonic() + 90
            while len(sink.files()) < 2 * CAP:
                assert time.monotonic() < deadline, [log.read_text()[-2000:] for log in logs]
                assert all(p.poll() is None for p in procs), logs[0].read_text()[-2000:]
                time.sleep(0.2)
            time.sleep(3 * GAP_S)  # an eleventh email, past the caps, would arrive now
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(30)
        files = sink.files()
        messages = {str(m["X-Outreach-Draft-Id"]): m for m in sink.messages()}
        arrivals: dict[str, list[float]] = {}
        for path, message in zip(files, sink.messages()):
            arrivals.setdefault(str(message["From"]), []).append(path.stat().st_mtime)

    assert len(files) == 2 * CAP  # 12 drafts, two live mailboxes of 5 a day
    assert {sender: len(times) for sender, times in arrivals.items()} == {
        "Rep 2 <mb2@send.example>": CAP, "Rep 3 <mb3@send.example>": CAP}
    gaps = [b - a for times in arrivals.values() for a, b in zip(sorted(times), sorted(times)[1:])]
    assert min(gaps) >= GAP_S - GAP_SLACK_S, sorted(gaps)
    book = MailboxBook(redis, prefix(settings))
    assert book.is_paused("mb1@send.example")
    assert "Connection refused" in book.status("mb1@send.example")["reason"]
    moved = [r["draft_id"] for r in follow_ups]
    assert all(d in messages and "mb1@" not in str(messages[d]["From"]) for d in moved), (
        sorted(messages))
    sent_by = [int(line.split(" sent")[0].rsplit(", ", 1)[-1]) for log in logs
               for line in log.read_text().splitlines() if "sending engine stopped" in line]
    assert len(sent_by) == 2 and sum(sent_by) == 2 * CAP and min(sent_by) > 0, sent_by
    print(f"\ntwo senders: {sent_by} emails; shortest gap {min(gaps):.2f} s (min {GAP_S} s); "
          f"{len(moved)} follow-ups of the paused mailbox sent by the others")
