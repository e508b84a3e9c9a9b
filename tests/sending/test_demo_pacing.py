"""The engine as the demo runs it (`outreach send` with DEMO_SENDING_ENV, no mailbox
configured) on the real embedded stack: each campaign's own sender is its mailbox, every draft
goes out at once, a redelivered one is not sent twice."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from apps.demo import DEMO_SENDING_ENV
from mail.smtp_sink import smtp_sink
from outreach.kafka import make_producer
from outreach.settings import HoursSettings, MailboxLimits, SendingSettings, Settings
from outreach.topics import DRAFTS
from sending.runner import run_engine
from engine_support import CODEC, draft
from test_two_senders import start_at_end

pytestmark = pytest.mark.integration


def test_the_demo_pacing_sends_every_draft_from_its_campaigns_sender(
        settings: Settings, unique: str, tmp_path: Path) -> None:
    assert DEMO_SENDING_ENV["OUTREACH_SENDING__HOURS__ANYTIME"] == "true"
    sending = SendingSettings(hours=HoursSettings(anytime=True), tick_s=0.2,
                              default_mailbox=MailboxLimits(min_gap_s=0, daily_cap=10_000))
    records = [dict(draft(unique, n, campaign=f"{c}-{unique}"), from_email=f"rep@{c}.example",
                    from_name=f"Rep of {c}") for n, c in enumerate(("ledger", "patch", "ledger"))]
    with smtp_sink(tmp_path / "sink") as sink:
        settings = sink.configure(settings).model_copy(update={"sending": sending})
        start_at_end(settings)
        producer = make_producer(settings)
        for record in records + records[:1]:  # the first one twice: a redelivery
            producer.produce(DRAFTS, key=record["draft_id"],
                             value=CODEC.encode("EmailDraft", record))  # type: ignore[arg-type]
        assert producer.flush(30) == 0
        stop = threading.Event()
        sent: list[tuple[str, str]] = []
        ours = {record["draft_id"] for record in records}

        def on_sent(d, box) -> None:  # the shared broker may carry other tests' drafts
            if d["draft_id"] in ours:
                sent.append((d["draft_id"], box))

        thread = threading.Thread(target=run_engine, args=(settings, stop), daemon=True,
                                  kwargs={"on_sent": on_sent})
        thread.start()
        try:
            deadline = time.monotonic() + 60
            while len(sent) < 3:
                assert time.monotonic() < deadline, sent
                time.sleep(0.2)
            time.sleep(1.0)  # a second copy of the redelivered draft would be sent by now
        finally:
            stop.set()
            thread.join(30)
        senders = sorted(str(m["From"]) for m in sink.messages()
                         if str(m["X-Outreach-Draft-Id"]) in ours)
    assert sorted(box for _, box in sent) == ["rep@ledger.example", "rep@ledger.example",
                                              "rep@patch.example"]
    assert senders == ["Rep of ledger <rep@ledger.example>"] * 2 + [
        "Rep of patch <rep@patch.example>"]
