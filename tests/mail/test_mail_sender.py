"""run_sender against the real embedded broker, real Redis and the real aiosmtpd sink."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from outreach.errors import ConfigError
from mail import Backoff, SinkInfo, smtp_sink
from outreach.settings import Settings
from outreach.stack import free_port
from outreach.store import SyncStore

from mail_helpers import ScriptedSink, dead_letters, make_draft, produce, run_bounded

pytestmark = pytest.mark.integration
FAST_RETRY = Backoff(initial_s=0.05, max_s=0.2)


def campaign_id() -> str:
    return f"c{uuid.uuid4().hex[:10]}"


def read_eml(path: Path):
    return message_from_bytes(path.read_bytes(), policy=policy.default)


@pytest.fixture(scope="module")
def mixed_batch(module_settings: Settings, module_sink: SinkInfo):
    """One run over: two drafts, a redelivered duplicate, a suppressed lead, garbage, a draft."""
    campaign = campaign_id()
    first, second, suppressed, last = (make_draft(campaign, n) for n in (1, 2, 3, 4))
    garbage = b"not an avro record " + campaign.encode()
    SyncStore(module_settings).suppress(suppressed["to_email"])
    produce(module_settings, first, second, first, suppressed, garbage, last)
    seen: list[str] = []
    stats = run_bounded(module_settings, max_messages=6,
                        on_sent=lambda draft: seen.append(draft["draft_id"]))
    return {"campaign": campaign, "drafts": [first, second, suppressed, last],
            "garbage": garbage, "stats": stats, "seen": seen}


def test_each_draft_becomes_one_eml_with_its_headers(mixed_batch, module_settings, module_sink):
    first, second, _, last = mixed_batch["drafts"]
    files = {path.name: read_eml(path) for path in module_sink.files()}
    assert sorted(files) == sorted(f"{d['draft_id']}.eml" for d in (first, second, last))
    msg = files[f"{first['draft_id']}.eml"]
    assert msg["From"] == module_settings.sender.from_address
    assert msg["To"] == f"{first['to_name']} <{first['to_email']}>"
    assert msg["Subject"] == first["subject"]
    # The sink stores the bytes as they crossed the wire, so lines end in CRLF (RFC 5321).
    content = msg.get_content().replace("\r\n", "\n")
    assert content.startswith(first["body"]) and "Not interested?" in content  # opt-out line
    domain = module_settings.sender.from_address.rpartition("@")[2].rstrip(">")
    assert msg["Message-ID"] == f"<{first['draft_id']}@{domain}>"
    assert msg["X-Outreach-Draft-Id"] == first["draft_id"]
    # Nothing internal in what a recipient can read: the model and the A/B arm stay on Kafka.
    assert msg["X-Outreach-Variant"] is None and msg["X-Outreach-Model"] is None
    assert msg["List-Unsubscribe"].endswith(f"@{domain}?subject=unsubscribe%20{first['draft_id']}>")
    assert msg["X-Sink-Rcpt-To"] == f"<{first['to_email']}>"  # the SMTP envelope, too
    assert sorted(mixed_batch["seen"]) == sorted(d["draft_id"] for d in (first, second, last))


def test_duplicate_draft_id_is_sent_once(mixed_batch, module_sink):
    first = mixed_batch["drafts"][0]
    assert [p.name for p in module_sink.files()].count(f"{first['draft_id']}.eml") == 1
    # The sink never overwrites: a second copy would have been written as <draft_id>-2.eml.
    assert not list(module_sink.folder.glob(f"{first['draft_id']}-2.eml"))
    assert mixed_batch["stats"].skipped["duplicate_at_send"] == 1


def test_suppressed_address_is_not_sent(mixed_batch, module_sink, module_settings):
    suppressed = mixed_batch["drafts"][2]
    assert not (module_sink.folder / f"{suppressed['draft_id']}.eml").exists()
    assert mixed_batch["stats"].skipped["suppressed_at_send"] == 1
    counters = SyncStore(module_settings).stats()  # this module's own Redis key prefix
    assert (counters["suppressed_at_send"], counters["sent"]) == (1, 3)


def test_undecodable_record_is_dead_lettered_and_the_next_draft_sent(mixed_batch, module_settings,
                                                                    module_sink):
    letters = [x for x in dead_letters(module_settings) if x["value"] == mixed_batch["garbage"]]
    assert len(letters) == 1
    letter = letters[0]
    assert (letter["stage"], letter["error_type"], letter["source_topic"]) == (
        "sender", "bad_framing", "email.drafts")
    assert "not an Avro record" in letter["error"]
    assert (module_sink.folder / f"{mixed_batch['drafts'][3]['draft_id']}.eml").exists()
    stats = mixed_batch["stats"]
    assert (stats.sent, stats.skipped["bad_framing"], stats.handled) == (3, 1, 6)


def test_without_smtp_host_nothing_is_sent(mail_settings, sink):
    produce(mail_settings, make_draft(campaign_id(), 1))
    unconfigured = mail_settings.model_copy(update={
        "sender": mail_settings.sender.model_copy(update={"smtp_host": None})})
    with pytest.raises(ConfigError, match="smtp_host is unset"):
        run_bounded(unconfigured, max_messages=1)
    assert sink.files() == []


def test_transient_smtp_failure_is_retried_until_sent(mail_settings, tmp_path):
    draft = make_draft(campaign_id(), 1)
    produce(mail_settings, draft)
    handler = ScriptedSink(tmp_path / "flaky", defer_data=2)
    with smtp_sink(tmp_path / "flaky", handler=handler) as flaky:
        stats = run_bounded(flaky.configure(mail_settings), max_messages=1, backoff=FAST_RETRY)
        assert [p.name for p in flaky.files()] == [f"{draft['draft_id']}.eml"]
    assert (handler.deferred, stats.retries, stats.sent) == (2, 2, 1)


def test_rejected_recipient_is_dead_lettered_and_the_next_draft_sent(mail_settings, tmp_path):
    campaign = campaign_id()
    rejected = make_draft(campaign, 1, to_email=f"nobody@{campaign}.example")
    accepted = make_draft(campaign, 2)
    produce(mail_settings, rejected, accepted)
    handler = ScriptedSink(tmp_path / "picky", reject_local="nobody")
    with smtp_sink(tmp_path / "picky", handler=handler) as picky:
        stats = run_bounded(picky.configure(mail_settings), max_messages=2, backoff=FAST_RETRY)
        assert [p.name for p in picky.files()] == [f"{accepted['draft_id']}.eml"]
    letters = [x for x in dead_letters(mail_settings) if x["request_id"] == rejected["request_id"]]
    assert [(x["error_type"], x["lead_id"]) for x in letters] == [("smtp_rejected", "lead-1")]
    assert "550" in letters[0]["error"]
    assert (stats.sent, stats.skipped["smtp_rejected"], stats.retries) == (1, 1, 0)


def test_stop_event_ends_an_unbounded_run(mail_settings, sink):
    draft = make_draft(campaign_id(), 1)
    produce(mail_settings, draft)
    stop = threading.Event()
    stats = run_bounded(mail_settings, stop=stop, on_sent=lambda _draft: stop.set())
    assert stats.sent == 1
    assert [p.name for p in sink.files()] == [f"{draft['draft_id']}.eml"]


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as page:
        return page.read().decode()


def test_outreach_send_process_serves_metrics_and_stops_on_sigterm(mail_settings, sink):
    """The real `outreach send --unpaced` process (the reference sender; plain `outreach send`
    is the paced engine, tests/sending/): metrics on its port, SIGTERM ends it cleanly (exit 0)."""
    draft = make_draft(campaign_id(), 1)
    produce(mail_settings, draft)
    metrics_port = free_port()
    env = dict(os.environ, KAFKA_BOOTSTRAP_SERVERS=mail_settings.kafka_bootstrap_servers,
               REDIS_URL=mail_settings.redis_url,
               OUTREACH_KAFKA__GROUP_PREFIX=mail_settings.kafka.group_prefix,
               OUTREACH_REDIS__KEY_PREFIX=mail_settings.redis.key_prefix,
               OUTREACH_SENDER__SMTP_HOST=sink.host, OUTREACH_SENDER__SMTP_PORT=str(sink.port),
               OUTREACH_SENDER__METRICS_PORT=str(metrics_port))
    proc = subprocess.Popen([sys.executable, "-m", "apps", "send", "--unpaced"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        expected = sink.folder / f"{draft['draft_id']}.eml"
        deadline = time.monotonic() + 30
        while not expected.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        assert expected.exists(), "the sender process did not send the draft"
        # The .eml exists once the sink accepted it, a moment before the sender counts it.
        sent_line = "outreach_sender_sent_total 1.0"
        while sent_line not in (metrics := scrape(metrics_port)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert sent_line in metrics
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        output = proc.communicate()[0].decode(errors="replace")
    assert "received SIGTERM: finishing the current draft" in output  # outreach.shutdown
