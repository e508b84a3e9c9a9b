"""The campaigns dataset: synthetic campaigns x international leads -> teacher emails -> splits.

    python -m training.campaign_data --out training-data/campaigns   # ~20 s on 2 cores

Held-out splits the training never sees (the issue's evaluation slices):
- ``test_unseen_campaigns``: leads of campaigns whose products are not in training (the last
  ``held_out`` synthetic campaigns plus the repository's example briefs in campaigns/examples).
- ``test_unseen_leads``: new leads (new lead ids, names, companies) of the training campaigns.
Every row carries its campaign (the Avro record, so evaluation rebuilds the exact prompt),
its evidence ids and ``script`` ("latin" or "non_latin", from the lead's first name and
company) for the script slices. Only emails that pass the worker's own checks
(generation.checks.check_draft, the one entry point) enter, so the miniature never learns a
draft the worker would reject.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import unicodedata
from pathlib import Path
from typing import Any

from outreach import leadgen
from outreach.errors import DataError
from outreach.settings import ChecksSettings
from schemas.campaign import Campaign, load_campaign
from training import campaign_synth, teacher_followup, teacher_offline
from training.prompt import DEFAULT_FIELD_MAX_CHARS, email_text, trained_prompt
from outreach.hashing import file_sha256
from training.records import write_jsonl
from generation.checks import check_draft
from generation.draft import Draft

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "campaigns" / "examples"
SPLITS = ("train", "validation", "test_unseen_campaigns", "test_unseen_leads")


def script_of(lead: dict[str, Any]) -> str:
    """"non_latin" when the first name or company has a letter outside the Latin script."""
    for ch in f"{lead.get('first_name') or ''}{lead.get('company') or ''}":
        if ch.isalpha() and not unicodedata.name(ch, "").startswith("LATIN"):
            return "non_latin"
    return "latin"


def campaign_leads(campaign: Campaign, count: int, seed: int, prefix: str) -> list[dict]:
    """Leads for one campaign: most of them in its market (its category's pains and
    industries), the rest from anywhere, as a real list bought or scraped would be."""
    rng = random.Random(int(hashlib.sha256(f"{seed}:{prefix}:{campaign.campaign_id}".encode())
                            .hexdigest()[:12], 16))
    category = campaign_synth.category_of(campaign)
    pains = category.pains if category else tuple(leadgen.PAIN_POINTS)
    industries = category.industries if category else None
    leads = []
    for index in range(count):
        on_target = rng.random() < 0.8
        lead = leadgen.make_lead(rng, index, campaign.campaign_id,
                                 pains=pains if on_target else leadgen.DEFAULT_PAINS,
                                 industries=industries if on_target else None)
        lead["lead_id"] = f"{prefix}-{campaign.campaign_id}-{index:03d}"
        lead["created_at"] = 1_760_000_000_000  # fixed: the dataset is reproducible byte for byte
        leads.append(lead)
    return leads


def rows_for(campaign: Campaign, leads: list[dict], split: str, seed: int,
             counts: dict[str, int]) -> list[dict[str, Any]]:
    rows = []
    checks = ChecksSettings()
    for example in teacher_offline.teach(leads, campaign, seed=seed):
        reasons = check_draft(Draft(example.subject, example.body), example.lead, checks,
                              campaign)
        if reasons:
            counts[f"dropped_failed_checks:{reasons[0][:40]}"] = counts.get(
                f"dropped_failed_checks:{reasons[0][:40]}", 0) + 1
            continue
        evidence = [campaign.fact(i) for i in example.evidence_ids]
        rows.append({
            "example_id": example.example_id, "lead_id": example.lead_id, "lead": example.lead,
            "campaign_id": campaign.campaign_id, "campaign": campaign.to_record(),
            "evidence_ids": example.evidence_ids,
            "prompt": trained_prompt(example.lead, campaign, evidence, DEFAULT_FIELD_MAX_CHARS),
            "completion": email_text(example.subject, example.body), "split": split,
            "script": script_of(example.lead), "teacher": example.teacher,
            "source": "synthetic", "reward": None})
    return rows


def followup_rows_for(campaign: Campaign, leads: list[dict], seed: int,
                      counts: dict[str, int]) -> list[dict[str, Any]]:
    """Steps 2 and 3 of the teacher's sequence for ``leads`` (training/teacher_followup.py),
    on the follow-up prompt the worker serves, only those that pass the one checks entry
    point as a follow-up (issue 25: the served miniature has seen no follow-up)."""
    if not campaign.sequence[1:]:
        campaign = campaign.model_copy(update={"steps": teacher_followup.TEACHING_STEPS})
    rows = []
    for item in teacher_followup.followup_rows(leads, campaign, seed=seed):
        subject, _, body = item["completion"].partition("\n\n")
        request = {"lead": item["lead"], "withheld": {}, "step": item["step"],
                   "previous_body": item["previous_body"]}
        reasons = check_draft(Draft(subject.removeprefix("Subject: "), body), request,
                              ChecksSettings(), campaign)
        if reasons:
            key = f"dropped_failed_checks:step{item['step']}:{reasons[0][:40]}"
            counts[key] = counts.get(key, 0) + 1
            continue
        rows.append({**item, "split": "train", "script": script_of(item["lead"]),
                     "campaign": campaign.to_record()})
    return rows


def build(out_dir: Path, campaigns: int = 56, held_out: int = 10, train_leads: int = 20,
          validation_leads: int = 1, unseen_campaign_leads: int = 6, unseen_leads: int = 1,
          seed: int = 0, examples_dir: Path = EXAMPLES_DIR,
          followup_leads: int = 0) -> dict[str, Any]:
    """``followup_leads``: per training campaign, that many of its training leads also get
    steps 2 and 3 (0: first emails only, the datasets the served adapters were trained on)."""
    synth = campaign_synth.generate(campaigns, seed)
    seen, unseen = synth[:-held_out], synth[-held_out:]
    unseen += [load_campaign(path) for path in sorted(examples_dir.glob("*.yaml"))]
    if {c.product for c in seen} & {c.product for c in unseen}:
        raise DataError("a held-out product is also a training product")
    counts: dict[str, int] = {}
    splits: dict[str, list[dict]] = {name: [] for name in SPLITS}
    for campaign in seen:
        train = campaign_leads(campaign, train_leads, seed, "tr")
        splits["train"] += rows_for(campaign, train, "train", seed, counts)
        if followup_leads:
            splits["train"] += followup_rows_for(campaign, train[:followup_leads], seed, counts)
        splits["validation"] += rows_for(
            campaign, campaign_leads(campaign, validation_leads, seed, "va"), "validation",
            seed, counts)
        splits["test_unseen_leads"] += rows_for(
            campaign, campaign_leads(campaign, unseen_leads, seed, "ul"), "test_unseen_leads",
            seed, counts)
    for campaign in unseen:
        splits["test_unseen_campaigns"] += rows_for(
            campaign, campaign_leads(campaign, unseen_campaign_leads, seed, "uc"),
            "test_unseen_campaigns", seed, counts)
    random.Random(seed).shuffle(splits["train"])
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, rows in splits.items():
        write_jsonl(out_dir / f"{name}.jsonl", rows)
        files[f"{name}.jsonl"] = file_sha256(out_dir / f"{name}.jsonl")
    # `outreach eval` reads test.jsonl: both held-out slices, each row tagged with its split.
    write_jsonl(out_dir / "test.jsonl", splits["test_unseen_campaigns"]
                + splits["test_unseen_leads"])
    files["test.jsonl"] = file_sha256(out_dir / "test.jsonl")
    manifest = {
        "counts": {name: len(rows) for name, rows in splits.items()},
        "scripts": {name: {s: sum(r["script"] == s for r in rows)
                           for s in ("latin", "non_latin")} for name, rows in splits.items()},
        "campaigns": {"train": [c.campaign_id for c in seen],
                      "unseen": [c.campaign_id for c in unseen]},
        "filtering": dict(sorted(counts.items())),
        "teacher": teacher_offline.TEACHER_NAME,
        "params": {"campaigns": campaigns, "held_out": held_out, "train_leads": train_leads,
                   "validation_leads": validation_leads,
                   "unseen_campaign_leads": unseen_campaign_leads,
                   "unseen_leads": unseen_leads, "seed": seed, "followup_leads": followup_leads,
                   "field_max_chars": DEFAULT_FIELD_MAX_CHARS},
        "files": files,
        "dataset_sha256": hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest(),
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("training-data/campaigns"))
    parser.add_argument("--campaigns", type=int, default=56)
    parser.add_argument("--held-out", type=int, default=10)
    parser.add_argument("--train-leads", type=int, default=20)
    parser.add_argument("--unseen-campaign-leads", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--followup-leads", type=int, default=0,
                        help="training leads per campaign that also get steps 2 and 3")
    args = parser.parse_args(argv)
    manifest = build(args.out, args.campaigns, args.held_out, args.train_leads,
                     unseen_campaign_leads=args.unseen_campaign_leads, seed=args.seed,
                     followup_leads=args.followup_leads)
    print(json.dumps({k: manifest[k] for k in ("counts", "scripts", "filtering")}, indent=1))


if __name__ == "__main__":
    main()
