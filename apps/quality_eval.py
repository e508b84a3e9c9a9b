"""The quality report: what the served miniature sends, on campaigns and leads it never saw.

    outreach quality --out runs/quality                 # 12 held-out campaigns, 2 seeds
    outreach quality --leads 10 --seeds 3 --world-seed 42 --out runs/quality

Held-out campaigns (training.heldout: hand-written briefs in markets and wording the training
campaigns never use, pains from a test pool disjoint from training's) get fresh Faker leads
from 18 locales, a new world seed each run unless ``--world-seed`` pins it: 70% carry a pain
their campaign addresses, the rest another market's pain, which the prompt must not show
(generation.relevance). Each lead goes the worker's own way: intake screening
(streams.screening), the served settings and model (head cut and adapter as outreach.yaml says),
``generation.generate.draft_for_request`` with its attempts and the one checks entry point. So
"sent without a person" here is exactly what the worker would publish.

Written to OUT: ``emails.jsonl`` (one line per lead and seed: slice, script, every attempt's
reasons, the sent text), ``report.json`` / ``report.md`` (by slice and seed: first-try pass,
sent after the retry, each rejection class, false claims caught, pains used where the campaign
does not address them), and ``blind-read.md``: 30 sent emails in random order with no slice or
seed, for a person to read and count what they would fix (the checks cannot measure their
own blind spots).
"""

from __future__ import annotations

import json
import random
import re
import statistics
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from outreach.errors import SchemaError
from outreach.settings import Settings
from streams.routing import build_request
from streams.screening import apply, screen_lead
from training import heldout, rubric
from training.campaign_data import script_of

# Rejection reasons -> the defect class a reader would name (first match wins).
CLASSES: tuple[tuple[str, re.Pattern[str]], ...] = tuple((name, re.compile(rx)) for name, rx in (
    ("false claim of earlier contact", r"claims earlier contact"),
    ("greeting glued to the name", r"greeting glued"),
    ("article slip", r"article slip"),
    ("capital after a lead-in", r"capital after a lead-in"),
    ("product name casing", r"written as"),
    ("two calls to action", r"calls to action"),
    ("no call to action", r"no call to action"),
    ("product named as a customer", r"product named as"),
    ("invented figure", r"figure not in"),
    ("sign-off", r"sign-off"),
    ("length", r"too (long|short)|empty subject|cut off"),
    ("name or company missing", r"missing"),
    ("repetition or copying", r"repeated sentence|copies"),
    ("invented detail or link", r"invented contact|URL not allowed|link not allowed|placeholder"),
    ("withheld text echoed", r"withheld"),
    ("prompt leaked", r"prompt text leaked"),
    ("situation the lead's data does not give", r"lead's situation"),
    ("closing line in a first email", r"closing line in a first"),
    ("benefit said twice or alone", r"benefit said twice|benefit on its own"),
    ("lead's company renamed or cut", r"lead's company|subject names"),
    ("fact retold with other numbers", r"fact retold"),
    ("peer claim", r"peer claim"),
    ("customer said to be the product", r"customer said to be"),
    ("word glued to another script", r"glued to a name in another"),
    ("doubled punctuation", r"doubled or stray"),
    ("lead's role rewritten", r"lead's role"),
    ("opens on a line that points back", r"points back"),
))
BLIND_READ = 30


def defect_class(reason: str) -> str:
    # "attempt 2: article slip: ..." -> "article slip"
    text = reason.split(": ", 1)[1] if reason.startswith("attempt ") else reason
    return next((name for name, rx in CLASSES if rx.search(text)), "other")


@dataclass(frozen=True)
class Case:
    seed: int
    campaign_id: str
    lead: dict[str, Any]
    on_target: bool


def cases(leads_per_campaign: int, seeds: int, world_seed: int,
          campaign_limit: int | None = None) -> list[Case]:
    """Fresh leads per held-out campaign and sampling seed (lead ids carry the seed, so every
    seed samples its own request ids and hence its own attempt seeds)."""
    out = []
    for item in heldout.load_all()[:campaign_limit]:
        pains = set(item.pains)
        for seed in range(seeds):
            prefix = f"q{world_seed}s{seed}"
            for lead in heldout.leads_for(item, leads_per_campaign, world_seed + seed, prefix):
                out.append(Case(seed, item.campaign.campaign_id, lead,
                                lead.get("pain_point") in pains))
    return out


def run(settings: Settings, out_dir: Path, leads_per_campaign: int = 20, seeds: int = 2,
        world_seed: int | None = None, campaign_limit: int | None = None) -> dict[str, Any]:
    """Write every email and the report to ``out_dir``; returns the report."""
    from generation.batched_generator import BatchedGenerator
    from generation.generate import draft_for_request
    from generation.model import resolve_model

    world_seed = int(time.time()) % 100_000 if world_seed is None else world_seed
    campaigns = {c.campaign_id: c for c in heldout.campaigns()}
    model = resolve_model(settings)
    generator = BatchedGenerator(model, settings)
    rule = settings.routing.rules[-1]
    started = time.monotonic()

    def one(case: Case) -> dict[str, Any]:
        row = {"seed": case.seed, "campaign": case.campaign_id, "lead_id": case.lead["lead_id"],
               "script": script_of(case.lead), "pain": case.lead.get("pain_point"),
               "pain_on_target": case.on_target}
        try:
            screening = screen_lead(case.lead)
        except SchemaError as exc:
            return {**row, "outcome": "dead-lettered", "reasons": [str(exc)]}
        lead = apply(case.lead, screening)
        _, request = build_request(lead, rule, 0, 0)
        request["withheld"] = screening.withheld
        outcome = draft_for_request(request, generator, model, settings,
                                    campaigns[case.campaign_id])
        sent = outcome.draft
        row.update(outcome="sent" if sent else "held", attempts=outcome.attempts,
                   first_try=outcome.attempts == 1 and sent is not None,
                   reasons=list(outcome.rejections), repairs=list(outcome.repairs),
                   subject=sent["subject"] if sent else None, body=sent["body"] if sent else None)
        if sent is not None:
            row["pain_misused"] = bool(not case.on_target and case.lead.get("pain_point")
                                       and rubric.pain_used(sent["body"], case.lead))
        return row

    todo = cases(leads_per_campaign, seeds, world_seed, campaign_limit)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    with ThreadPoolExecutor(max_workers=settings.model.batch_slots) as pool, \
            (out_dir / "emails.jsonl").open("w", encoding="utf-8") as handle:
        for row in pool.map(one, todo):
            rows.append(row)
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    report = summarize(rows)
    report.update(world_seed=world_seed, seeds=seeds, leads_per_campaign=leads_per_campaign,
                  campaigns=len({case.campaign_id for case in todo}), model_id=model.model_id,
                  model_version=model.version, seconds=round(time.monotonic() - started, 1))
    (out_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (out_dir / "report.md").write_text(markdown(report), encoding="utf-8")
    (out_dir / "blind-read.md").write_text(blind_read(rows, world_seed), encoding="utf-8")
    return report


def _figures(rows: list[dict[str, Any]]) -> dict[str, Any]:
    drafted = [r for r in rows if r["outcome"] != "dead-lettered"]
    sent = [r for r in drafted if r["outcome"] == "sent"]
    attempts = Counter(defect_class(reason) for r in drafted for reason in r.get("reasons", []))
    n = max(1, len(drafted))
    return {
        "leads": len(rows), "drafted": len(drafted), "dead_lettered": len(rows) - len(drafted),
        "first_try_pass": round(sum(r["first_try"] for r in drafted) / n, 4),
        "sent_without_a_person": round(len(sent) / n, 4),
        "held": len(drafted) - len(sent),
        # Sent drafts code fixed a slip in (generation.repair: a name's casing, "a HR", ...).
        "sent_after_a_repair": sum(bool(r.get("repairs")) for r in sent),
        "false_claims_caught": attempts.get("false claim of earlier contact", 0),
        "pain_misused_in_sent": sum(bool(r.get("pain_misused")) for r in sent),
        "rejections_by_class": dict(attempts.most_common()),
    }


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Figures for all rows, by script group, and by seed (with the spread across seeds)."""
    by_seed = {seed: _figures([r for r in rows if r["seed"] == seed])
               for seed in sorted({r["seed"] for r in rows})}
    spread = {key: {"mean": round(statistics.mean(f[key] for f in by_seed.values()), 4),
                    "min": min(f[key] for f in by_seed.values()),
                    "max": max(f[key] for f in by_seed.values())}
              for key in ("first_try_pass", "sent_without_a_person")}
    return {
        "all": _figures(rows),
        "latin": _figures([r for r in rows if r["script"] == "latin"]),
        "non_latin": _figures([r for r in rows if r["script"] != "latin"]),
        "on_target_pain": _figures([r for r in rows if r["pain_on_target"]]),
        "off_target_or_no_pain": _figures([r for r in rows if not r["pain_on_target"]]),
        "by_seed": by_seed, "seed_spread": spread,
    }


def markdown(report: dict[str, Any]) -> str:
    lines = [f"# Quality report: {report['model_version'] or report['model_id']}", "",
             f"{report['campaigns']} held-out campaigns x {report['leads_per_campaign']} leads x "
             f"{report['seeds']} seeds, world seed {report['world_seed']}, "
             f"{report['seconds']:.0f} s.", "",
             "| slice | drafted | first-try pass | sent without a person | held | false claims "
             "caught | pain misused (sent) | sent after a repair |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    named = [(name, report[name]) for name in ("all", "latin", "non_latin", "on_target_pain",
                                               "off_target_or_no_pain")]
    named += [(f"seed {seed}", fig) for seed, fig in report["by_seed"].items()]
    for name, fig in named:
        lines.append(f"| {name} | {fig['drafted']} | {fig['first_try_pass']:.1%} | "
                     f"{fig['sent_without_a_person']:.1%} | {fig['held']} | "
                     f"{fig['false_claims_caught']} | {fig['pain_misused_in_sent']} | "
                     f"{fig.get('sent_after_a_repair', 0)} |")
    lines += ["", "Rejections by class (every attempt of every lead):", ""]
    lines += [f"- {name}: {count}" for name, count in report["all"]["rejections_by_class"].items()]
    return "\n".join(lines) + "\n"


def blind_read(rows: list[dict[str, Any]], world_seed: int) -> str:
    sent = [r for r in rows if r["outcome"] == "sent"]
    sample = random.Random(world_seed).sample(sent, min(BLIND_READ, len(sent)))
    parts = ["# Blind read: sent emails in random order (no slice, seed or model shown)", ""]
    for index, row in enumerate(sample, 1):
        parts += [f"## {index}", "", f"Subject: {row['subject']}", "", row["body"], ""]
    return "\n".join(parts)


__all__ = ["CLASSES", "blind_read", "cases", "defect_class", "run", "summarize"]
