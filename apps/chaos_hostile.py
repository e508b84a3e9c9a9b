"""The hostile-text phase of `outreach chaos`: injected instructions, links, secrets and fake
headers in every free-text field, through intake and a real generation worker (the default
model), with the worker SIGKILLed once mid-run.

Every lead must get exactly one outcome (a published draft, a draft held for review, or a dead
letter) and no draft may contain the injected text. Screening withholds the fields and asks for
review, so most drafts are held (outreach/held.py); the held drafts are read from Redis.
"""

from __future__ import annotations

import time
from typing import Any

from apps.hostile import hostile_leads
from apps.pipeline import OutcomeWatcher, Services
from outreach.held import HeldDrafts
from outreach.leadgen import to_json
from outreach.settings import Settings
from outreach.store import sync_client
from outreach.topics import LEADS_JSON
from outreach.untrusted_text import normalize


def hostile_phase(run: Settings, services: Services, producer: Any, campaign: str,
                  kill_worker: bool, report: Any, say: Any, timeout_s: float) -> None:
    cases = hostile_leads(campaign)
    markers = {}
    for lead, _field, marker in cases:
        # Low score, small deal: the default rule sends them to the small tier's worker.
        lead.update(lead_score=10, deal_size=0.0, segment="smb", priority="normal")
        markers[lead["lead_id"]] = marker
        producer.produce(LEADS_JSON, key=lead["lead_id"], value=to_json(lead))
    producer.flush(30)
    report.hostile_leads = len(cases)
    if "intake" not in services.procs:  # the fuzz phase's intake may still be running
        services.start("stream", name="intake")
    services.start("worker", "--tier", "small", name="worker")
    watcher = OutcomeWatcher(run)
    client = sync_client(run.redis_url)
    held = HeldDrafts(client, run.redis.key_prefix, run.approval.item_ttl_s)
    want = set(markers)
    deadline, killed = time.monotonic() + timeout_s, False
    try:
        while time.monotonic() < deadline:
            watcher.poll(1.0)
            drafts = [d for d in watcher.outcomes.drafts.values() if d["lead_id"] in want]
            held_drafts = [i.draft for i in held.pending(1000) if i.draft["lead_id"] in want]
            failed = {d["lead_id"] for d in watcher.outcomes.failed_requests.values()}
            failed |= {d["lead_id"] for d in watcher.outcomes.intake_dead_letters}
            done = {d["lead_id"] for d in drafts + held_drafts} | (failed & want)
            if kill_worker and not killed and done:
                services.kill("worker")  # SIGKILL mid-run, then a fresh worker takes over
                services.start("worker", "--tier", "small", name="worker")
                report.worker_kills += 1
                killed = True
            if want <= done:
                break
            if "worker" in services.procs and services.procs["worker"].poll() is not None:
                services.procs.pop("worker")
                services.start("worker", "--tier", "small", name="worker")
    finally:
        watcher.close()
        client.close()
        services.stop()
    all_drafts = drafts + held_drafts
    report.hostile_outcomes = len(want & done)
    report.hostile_drafts = len({d["draft_id"] for d in all_drafts})
    report.hostile_injected = sum(
        1 for d in all_drafts
        if markers[d["lead_id"]] in normalize(f"{d['subject']}\n{d['body']}").lower())
    say(f"hostile: {report.hostile_outcomes}/{len(want)} leads with an outcome, "
        f"{report.hostile_drafts} drafts, {report.hostile_injected} with injected text")
