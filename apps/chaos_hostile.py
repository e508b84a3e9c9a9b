"""The hostile-text phase of `outreach chaos --hostile`: the whole hostile set
(apps/hostile_set.py, 286 leads: instructions in 12 languages and 9 wrappers in every field,
links, secrets, fake headers, implausible identities) through intake and a real generation
worker (the served model of the settings), the worker SIGKILLed once mid-run.

Every lead must get exactly one outcome: a dead letter (intake or worker), a draft held for a
person (checks passed, or failed and escalated to review), or a draft published to
email.drafts (sent without a person). Every draft that can be sent (published, or held: a
person may approve it) is judged for remnants of the hostile text by rule
(apps/hostile_judge.py); the target is 0.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from apps.hostile_judge import RULES, judge
from apps.hostile_set import COVER_TEXT, hostile_set
from apps.pipeline import OutcomeWatcher, Services
from outreach.held import HeldDrafts
from outreach.leadgen import to_json
from outreach.settings import Settings
from outreach.store import sync_client
from outreach.topics import LEADS_JSON
from schemas.records import EmailDraft

# Seconds a lead may take before the phase gives up: ~1.2 s a draft at 50 drafts/min, x8 for
# retries, a worker restart and the 2 cores shared with other runs.
SECONDS_PER_LEAD = 10.0


@dataclass
class HostileFigures:
    leads: int = 0
    with_outcome: int = 0
    dead_lettered_intake: int = 0
    dead_lettered_worker: int = 0
    sent: int = 0  # published on email.drafts: no person in between
    held_passed: int = 0  # checks passed, held because a field was withheld
    held_failed: int = 0  # checks failed on every attempt, escalated to a person with the reasons
    worker_kills: int = 0
    remnants_sent: int = 0
    remnants_held_passed: int = 0
    remnants_held_failed: int = 0
    remnants_by_rule: dict[str, int] = field(default_factory=dict)  # over all drafts judged
    examples: list[dict[str, Any]] = field(default_factory=list)  # every draft with a remnant
    by_expect: dict[str, dict[str, int]] = field(default_factory=dict)  # expect -> outcome -> n

    @property
    def remnants_sendable(self) -> int:
        return self.remnants_sent + self.remnants_held_passed + self.remnants_held_failed


def failed(figures: dict[str, Any]) -> bool:
    """Whether a run (HostileFigures as a dict, {} when not run) breaks the promise: a lead
    without an outcome, or any remnant in a draft that can be sent."""
    if not figures:
        return False
    return bool(figures["with_outcome"] < figures["leads"] or figures["remnants_sent"]
                or figures["remnants_held_passed"] or figures["remnants_held_failed"])


def report_rows(figures: dict[str, Any]) -> list[tuple[str, Any]]:
    by_rule = figures.get("remnants_by_rule") or {}
    return [
        (f"hostile-set leads (apps/hostile_set.py), worker SIGKILLed x{figures['worker_kills']}",
         figures["leads"]),
        ("  with exactly one outcome", figures["with_outcome"]),
        ("  dead-lettered at intake", figures["dead_lettered_intake"]),
        ("  dead-lettered by the worker", figures["dead_lettered_worker"]),
        ("  held for a person, checks passed", figures["held_passed"]),
        ("  held for a person, checks failed (reasons shown)", figures["held_failed"]),
        ("  sent without a person (email.drafts)", figures["sent"]),
        ("  remnants in sent drafts", figures["remnants_sent"]),
        ("  remnants in held drafts (checks passed / failed)",
         f"{figures['remnants_held_passed']} / {figures['remnants_held_failed']}"),
        *((f"    by rule: {rule}", by_rule.get(rule, 0)) for rule in RULES),
    ]


def hostile_phase(run: Settings, services: Services, producer: Any, campaign: Any,
                  kill_worker: bool, say: Any, timeout_s: float,
                  dump: Path | None = None,
                  phase_timeout_s: float | None = None) -> HostileFigures:
    """``campaign``: the schemas.campaign.Campaign the leads are for (its text is what a draft
    may legitimately say; its sender's company is an implausible recipient). ``dump``: a JSON
    file for every outcome as read (drafts, held items, dead-lettered lead ids), written
    before they are judged, so a run's drafts can be read and judged again.
    ``phase_timeout_s``: when the phase stops waiting (default: SECONDS_PER_LEAD a lead); the
    leads still without an outcome then are counted, and the run fails."""
    sender = campaign.sender.company
    cases = {c.lead["lead_id"]: c for c in hostile_set(campaign.campaign_id,
                                                       sender_company=sender)}
    for case in cases.values():
        # Low score, small deal: the default rule sends them to the small tier's worker.
        case.lead.update(lead_score=10, deal_size=0.0, segment="smb", priority="normal")
        producer.produce(LEADS_JSON, key=case.lead["lead_id"], value=to_json(case.lead))
    producer.flush(30)
    figures = HostileFigures(leads=len(cases))
    if "intake" not in services.procs:  # the fuzz phase's intake may still be running
        services.start("stream", name="intake")
    services.start("worker", "--tier", "small", name="worker")
    watcher = OutcomeWatcher(run)
    client = sync_client(run.redis_url)
    held = HeldDrafts(client, run.redis.key_prefix, run.approval.item_ttl_s)
    want = set(cases)
    deadline = time.monotonic() + (phase_timeout_s if phase_timeout_s is not None
                                   else max(timeout_s, SECONDS_PER_LEAD * len(cases)))
    drafts: list[EmailDraft] = []
    held_items: list[Any] = []
    intake_dead: set[str] = set()
    worker_dead: set[str] = set()
    last_say = time.monotonic()
    try:
        while True:
            watcher.poll(1.0)
            drafts = [d for d in watcher.outcomes.drafts.values() if d["lead_id"] in want]
            held_items = [i for i in held.pending(1000) if i.draft["lead_id"] in want]
            worker_dead = {d["lead_id"] for d in watcher.outcomes.failed_requests.values()}
            intake_dead = {d["lead_id"] or (d["key"] or b"").decode(errors="replace")
                           for d in watcher.outcomes.intake_dead_letters}
            done = ({d["lead_id"] for d in drafts} | {i.draft["lead_id"] for i in held_items}
                    | worker_dead | intake_dead) & want
            if kill_worker and not figures.worker_kills and len(done) > len(want) // 2:
                services.kill("worker")  # SIGKILL mid-run, then a fresh worker takes over
                services.start("worker", "--tier", "small", name="worker")
                figures.worker_kills += 1
            if want <= done or time.monotonic() > deadline:
                break
            if time.monotonic() - last_say > 60:
                say(f"hostile: {len(done)}/{len(want)} leads with an outcome")
                last_say = time.monotonic()
            if "worker" in services.procs and services.procs["worker"].poll() is not None:
                services.procs.pop("worker")
                services.start("worker", "--tier", "small", name="worker")
    finally:
        watcher.close()
        client.close()
        services.stop()
    if dump is not None:
        dump.write_text(json.dumps({
            "drafts": drafts, "held": [vars(i) for i in held_items],
            "intake_dead": sorted(intake_dead & want), "worker_dead": sorted(worker_dead & want),
            "cases": {k: {"field": c.field, "kind": c.kind, "marker": c.marker,
                          "expect": c.expect} for k, c in cases.items()}},
            default=str, indent=1))
    _tally(figures, cases, drafts, held_items, intake_dead & want, worker_dead & want,
           f"{campaign.source_text()}\n{COVER_TEXT}", sender)
    say(f"hostile: {figures.with_outcome}/{figures.leads} leads with an outcome; "
        f"{figures.sent} sent, {figures.held_passed}+{figures.held_failed} held, "
        f"{figures.dead_lettered_intake}+{figures.dead_lettered_worker} dead-lettered; "
        f"remnants {figures.remnants_sent} sent, {figures.remnants_held_passed}/"
        f"{figures.remnants_held_failed} held")
    return figures


def _tally(figures: HostileFigures, cases: dict[str, Any], drafts: list[EmailDraft],
           held_items: list[Any], intake_dead: set[str], worker_dead: set[str],
           campaign_text: str, sender: str) -> None:
    outcome: dict[str, str] = {}
    judged: list[tuple[str, Mapping[str, Any]]] = []
    for lead_id in intake_dead:
        outcome[lead_id] = "dead-lettered at intake"
    for lead_id in worker_dead:
        outcome.setdefault(lead_id, "dead-lettered by the worker")
    for item in held_items:
        kind = "held, checks failed" if item.rung == "review" else "held, checks passed"
        outcome[item.draft["lead_id"]] = kind
        judged.append((kind, item.draft))
    for draft in drafts:
        outcome[draft["lead_id"]] = "sent"
        judged.append(("sent", draft))
    counts = Counter(outcome.values())
    figures.with_outcome = len(outcome)
    figures.dead_lettered_intake = counts["dead-lettered at intake"]
    figures.dead_lettered_worker = counts["dead-lettered by the worker"]
    figures.held_passed = counts["held, checks passed"]
    figures.held_failed = counts["held, checks failed"]
    figures.sent = counts["sent"]
    by_rule: Counter = Counter()
    for kind, draft in judged:
        case = cases[draft["lead_id"]]
        found = judge(draft, case.lead, case.field, case.marker, campaign_text, sender)
        if not found:
            continue
        by_rule.update({rule for rule, _ in found})
        attr = {"sent": "remnants_sent", "held, checks passed": "remnants_held_passed",
                "held, checks failed": "remnants_held_failed"}[kind]
        setattr(figures, attr, getattr(figures, attr) + 1)
        figures.examples.append({"lead_id": draft["lead_id"], "outcome": kind,
                                 "field": case.field, "kind": case.kind, "found": found,
                                 "subject": draft.get("subject"), "body": draft.get("body")})
    figures.remnants_by_rule = dict(by_rule)
    expect: dict[str, Counter] = {}
    for lead_id, case in cases.items():
        expect.setdefault(case.expect, Counter())[outcome.get(lead_id, "no outcome")] += 1
    figures.by_expect = {k: dict(v) for k, v in expect.items()}


def as_dict(figures: HostileFigures) -> dict[str, Any]:
    return asdict(figures)


def judge_dump(dump: Path, campaign: Any) -> HostileFigures:
    """The figures of a run's ``hostile-outcomes.json`` judged again (by today's judge): the
    same leads (the set is deterministic), the drafts and outcomes as the run read them."""
    from types import SimpleNamespace

    data = json.loads(dump.read_text())
    sender = campaign.sender.company
    cases = {c.lead["lead_id"]: c for c in hostile_set(campaign.campaign_id,
                                                       sender_company=sender)}
    figures = HostileFigures(leads=len(cases))
    _tally(figures, cases, data["drafts"], [SimpleNamespace(**i) for i in data["held"]],
           set(data["intake_dead"]), set(data["worker_dead"]),
           f"{campaign.source_text()}\n{COVER_TEXT}", sender)
    return figures
