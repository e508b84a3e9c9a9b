"""`outreach followup-eval`: steps 2 and 3 of a sequence written by the served miniature.

    flock /tmp/model.lock outreach followup-eval --leads 12 --out runs/followup

For N leads of the held-out campaigns (training.heldout: campaigns, markets and pains the
miniature never saw), each campaign given the sequence demo's three steps (a short bump with one
proof point, then a last note): step 1 the worker's way (intake screening,
generation.generate.draft_for_request with the served settings and model, its attempts and the
one checks entry point), then step 2 with step 1's subject and body in its request, then step 3
with step 2's, exactly as the scheduler asks for them (sequences/handlers.py). The checks reject,
from step 2 on, a sentence of the previous email said again and contact beyond the thread
(generation.followup).

Reported per step: leads that reached it, first-try pass, sent after the attempts, and over
every attempt (what the miniature writes before the checks): the share that repeats a sentence
of the previous email and the share that claims contact beyond "my note last week". The sent
follow-ups are measured once more against the first email itself, so a step 3 that repeats
step 1 shows (the checks compare each step with the one before it only: a request carries the
previous email, not the whole thread).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, cast

from apps.quality_eval import defect_class
from apps.sequence_demo import STEPS
from generation.followup import draft_fields, repeated_from_previous
from outreach.errors import SchemaError
from outreach.ids import step_request_id
from outreach.settings import Settings
from schemas.campaign import Campaign
from schemas.records import EmailDraft, GenerationRequest, Lead
from streams.routing import build_request
from streams.screening import apply, screen_lead
from training import heldout

REPEATS, CLAIMS = "repeats the previous email", "claims earlier contact"


def cases(leads: int, world_seed: int) -> list[tuple[Campaign, dict[str, Any]]]:
    """``leads`` held-out leads, one campaign after another (12 leads: one per campaign)."""
    items = heldout.load_all()
    per = -(-leads // len(items))
    pools = [heldout.leads_for(item, per, world_seed, f"fu{world_seed}") for item in items]
    out = []
    for i in range(leads):
        item = items[i % len(items)]
        out.append((item.campaign.model_copy(update={"steps": STEPS}),
                    pools[i % len(items)][i // len(items)]))
    return out


def follow_up(request: GenerationRequest, campaign: Campaign, step: int,
              previous: Mapping[str, Any]) -> GenerationRequest:
    """The request the scheduler writes for ``step`` after the ``previous`` draft."""
    lead = request["lead"]
    return {**request, "request_id": step_request_id(lead["lead_id"], campaign.campaign_id, step),
            "rule": "sequence", "step": step, "previous_subject": previous["subject"],
            "previous_body": previous["body"],
            "thread_draft_ids": [*draft_fields(request)["thread_draft_ids"],
                                 previous["draft_id"]]}


def attempt_defects(rejections: list[str], attempts: int) -> dict[str, int]:
    """Attempts (of ``attempts``) whose reasons name each follow-up defect."""
    by_attempt: dict[str, set[str]] = {}
    for reason in rejections:
        number, _, text = reason.partition(": ")
        by_attempt.setdefault(number, set()).add(text)
    return {name: sum(1 for texts in by_attempt.values() if any(name in t for t in texts))
            for name in (REPEATS, CLAIMS)} | {"attempts": attempts}


def run(settings: Settings, out_dir: Path, leads: int = 12,
        world_seed: int | None = None) -> dict[str, Any]:
    from generation.batched_generator import BatchedGenerator
    from generation.generate import draft_for_request
    from generation.model import resolve_model

    world_seed = int(time.time()) % 100_000 if world_seed is None else world_seed
    model = resolve_model(settings)
    generator = BatchedGenerator(model, settings)
    rule = settings.routing.rules[-1]
    started = time.monotonic()

    def one(case: tuple[Campaign, dict[str, Any]]) -> list[dict[str, Any]]:
        campaign, raw = case
        raw_lead = cast(Lead, raw)  # a held-out lead row: the Lead record's fields
        base = {"campaign": campaign.campaign_id, "lead_id": raw_lead["lead_id"]}
        try:
            screening = screen_lead(raw_lead)
        except SchemaError as exc:
            return [{**base, "step": 1, "outcome": "dead-lettered", "reasons": [str(exc)]}]
        _, request = build_request(apply(raw_lead, screening), rule, 0, 0)
        request["withheld"] = screening.withheld
        rows: list[dict[str, Any]] = []
        previous: EmailDraft | None = None
        first: EmailDraft | None = None
        for step in range(1, len(STEPS) + 1):
            if previous is not None:
                request = follow_up(request, campaign, step, previous)
            outcome = draft_for_request(request, generator, model, settings, campaign)
            sent = outcome.draft
            row = {**base, "step": step, "outcome": "sent" if sent else "held",
                   "first_try": outcome.attempts == 1 and sent is not None,
                   **attempt_defects(outcome.rejections, outcome.attempts),
                   "reasons": list(outcome.rejections),
                   "subject": sent["subject"] if sent else None,
                   "body": sent["body"] if sent else None}
            if sent is not None and first is not None:
                row["repeats_first_email"] = repeated_from_previous(
                    {**request, "step": 2, "previous_body": first["body"]}, sent["body"])
            rows.append(row)
            if sent is None:
                break  # the scheduler ends a sequence whose step no rung could write
            previous = sent
            first = first or sent
        return rows

    todo = cases(leads, world_seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    with ThreadPoolExecutor(max_workers=settings.model.batch_slots) as pool, \
            (out_dir / "emails.jsonl").open("w", encoding="utf-8") as handle:
        for lead_rows in pool.map(one, todo):
            for row in lead_rows:
                rows.append(row)
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    report = summarize(rows)
    report.update(leads=leads, world_seed=world_seed, model_id=model.model_id,
                  model_version=model.version, seconds=round(time.monotonic() - started, 1))
    (out_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (out_dir / "report.md").write_text(markdown(report), encoding="utf-8")
    return report


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    by_step: dict[str, Any] = {}
    for step in sorted({r["step"] for r in rows}):
        here = [r for r in rows if r["step"] == step and r["outcome"] != "dead-lettered"]
        attempts = sum(r["attempts"] for r in here)
        sent = [r for r in here if r["outcome"] == "sent"]
        classes: dict[str, int] = {}
        for r in here:
            for reason in r["reasons"]:
                name = REPEATS if REPEATS in reason else defect_class(reason)
                classes[name] = classes.get(name, 0) + 1
        by_step[str(step)] = {
            "leads": len(here), "attempts": attempts,
            "first_try_pass": _rate(sum(r["first_try"] for r in here), len(here)),
            "sent": _rate(len(sent), len(here)),
            "attempts_repeating_previous": _rate(sum(r[REPEATS] for r in here), attempts),
            "attempts_claiming_contact": _rate(sum(r[CLAIMS] for r in here), attempts),
            "sent_repeating_first_email": (
                _rate(sum(bool(r.get("repeats_first_email")) for r in sent), len(sent))
                if step > 1 else None),
            "rejection_classes": dict(sorted(classes.items(), key=lambda kv: -kv[1]))}
    return {"by_step": by_step}


def _rate(n: int, of: int) -> dict[str, Any]:
    return {"n": int(n), "of": of, "rate": round(n / of, 3) if of else None}


def _fmt(value: dict[str, Any] | None) -> str:
    if value is None or not value["of"]:
        return "-"
    rate = "-" if value["rate"] is None else f"{100 * value['rate']:.1f}%"
    return f"{rate} ({value['n']}/{value['of']})"


def markdown(report: dict[str, Any]) -> str:
    lines = [f"Model {report.get('model_id', '?')}, {report.get('leads', '?')} held-out leads, "
             f"world seed {report.get('world_seed', '?')}, {report.get('seconds', '?')} s.", "",
             "| step | leads | attempts | first-try pass | sent | attempts repeating the "
             "previous email | attempts claiming contact beyond the thread | sent repeating a "
             "first-email sentence |", "|---|---|---|---|---|---|---|---|"]
    for step, s in report["by_step"].items():
        lines.append(f"| {step} | {s['leads']} | {s['attempts']} | {_fmt(s['first_try_pass'])} "
                     f"| {_fmt(s['sent'])} | {_fmt(s['attempts_repeating_previous'])} | "
                     f"{_fmt(s['attempts_claiming_contact'])} | "
                     f"{_fmt(s['sent_repeating_first_email'])} |")
    lines += ["", "Rejections by class (every attempt):", ""]
    for step, s in report["by_step"].items():
        top = ", ".join(f"{k} {v}" for k, v in list(s["rejection_classes"].items())[:6])
        lines.append(f"- step {step}: {top or 'none'}")
    return "\n".join(lines) + "\n"
