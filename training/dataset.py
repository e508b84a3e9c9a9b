"""Dataset builder: approved examples + reward-filtered feedback -> train/validation/test JSONL.

- Only ``status == "approved"`` synthetic examples enter (human review, or "rubric-auto" when a
  recipe says so; the manifest counts each kind of approval).
- FeedbackExamples (training.feedback, decoded to dicts): OUTCOME rows enter when
  reward >= min_reward; PREFERENCE_PAIR rows go to preferences.jsonl only (for DPO), never into
  the supervised splits.
- Near-duplicates: word 5-gram Jaccard >= threshold drops the later email. O(n^2) over sets is
  ~0.1 s for 1,000 emails; enough for review-sized datasets.
- Split by lead: a lead's every example lands in one split (hash of lead_id), so the test set
  never holds a lead the model was trained on.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schemas.campaign import Campaign
from training.brief import load_brief
from training.prompt import email_text, trained_prompt
from outreach.hashing import file_sha256
from training.records import Example, read_jsonl, write_jsonl

SPLITS = ("train", "validation", "test")
_WORD = re.compile(r"\w+")
SHINGLE = 5


@dataclass(frozen=True)
class SplitRatios:
    train: float = 0.8
    validation: float = 0.1
    test: float = 0.1


def shingles(text: str, n: int = SHINGLE) -> frozenset[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    return frozenset(tuple(words[i:i + n]) for i in range(max(1, len(words) - n + 1)))


def jaccard(a: frozenset, b: frozenset) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def split_of(lead_id: str, seed: int, ratios: SplitRatios) -> str:
    bucket = int(hashlib.sha256(f"{seed}:{lead_id}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    if bucket < ratios.train:
        return "train"
    return "validation" if bucket < ratios.train + ratios.validation else "test"


# The campaign of examples and feedback that do not name a known one (the original brief).
DEFAULT_BRIEF = Path(__file__).parent / "briefs" / "default.yaml"


def row(example_id: str, lead: dict[str, Any], subject: str, body: str, source: str,
        teacher: str, reward: float | None, field_max_chars: int,
        campaign: Campaign | None = None) -> dict[str, Any]:
    """A dataset row; its prompt quotes ``campaign`` and the evidence retrieval picks."""
    campaign = campaign or load_brief(DEFAULT_BRIEF)
    return {"example_id": example_id, "lead_id": str(lead.get("lead_id", "")), "lead": lead,
            "campaign_id": campaign.campaign_id, "campaign": campaign.to_record(),
            "prompt": trained_prompt(lead, campaign, None, field_max_chars),
            "completion": email_text(subject, body), "source": source, "teacher": teacher,
            "reward": reward}


def feedback_rows(paths: list[Path], min_reward: float, field_max_chars: int,
                  counts: Counter, campaign: Campaign | None = None
                  ) -> tuple[list[dict], list[dict]]:
    """(supervised rows, preference pairs) from FeedbackExample JSONL files."""
    campaign = campaign or load_brief(DEFAULT_BRIEF)
    rows, pairs = [], []
    for path in paths:
        for fb in read_jsonl(path):
            lead = fb["lead"]
            if fb.get("kind", "OUTCOME") == "PREFERENCE_PAIR":
                if fb.get("rejected_body"):
                    pairs.append({"example_id": fb["example_id"], "lead_id": lead.get("lead_id"),
                                  "prompt": trained_prompt(lead, campaign, None,
                                                           field_max_chars),
                                  "chosen": email_text(fb["subject"], fb["body"]),
                                  "rejected": email_text(fb.get("rejected_subject") or "",
                                                         fb["rejected_body"])})
                continue
            if float(fb.get("reward", 0.0)) < min_reward:
                counts["dropped_low_reward"] += 1
                continue
            rows.append(row(fb["example_id"], lead, fb["subject"], fb["body"], "feedback",
                            fb.get("model_id", ""), float(fb["reward"]), field_max_chars,
                            campaign))
    return rows, pairs


def build(examples: list[Example], out_dir: Path, feedback: list[Path] | None = None,
          min_reward: float = 0.5, near_duplicate_threshold: float = 0.8, seed: int = 0,
          ratios: SplitRatios = SplitRatios(), field_max_chars: int = 200,
          campaign: Campaign | None = None) -> dict[str, Any]:
    """Write {train,validation,test,preferences}.jsonl and manifest.json; return the manifest.

    ``campaign``: the campaign the examples were written for (default: the original brief);
    every row's prompt quotes it, as serving does.
    """
    counts: Counter = Counter()
    campaign = campaign or load_brief(DEFAULT_BRIEF)
    rows = []
    for ex in examples:
        if ex.status != "approved":
            counts[f"dropped_{ex.status}"] += 1
            continue
        counts[f"approved_by:{ex.approved_by or 'unknown'}"] += 1
        rows.append(row(ex.example_id, ex.lead, ex.subject, ex.body, ex.source, ex.teacher,
                        ex.reward, field_max_chars, campaign))
    extra, pairs = feedback_rows(feedback or [], min_reward, field_max_chars, counts, campaign)
    rows += extra
    kept: list[dict[str, Any]] = []
    kept_shingles: list[frozenset] = []
    for candidate in rows:
        sh = shingles(candidate["completion"])
        if any(jaccard(sh, other) >= near_duplicate_threshold for other in kept_shingles):
            counts["dropped_near_duplicate"] += 1
            continue
        kept.append(candidate)
        kept_shingles.append(sh)
    by_split: dict[str, list[dict]] = {name: [] for name in SPLITS}
    for candidate in kept:
        by_split[split_of(candidate["lead_id"], seed, ratios)].append(candidate)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {}
    for name in SPLITS:
        write_jsonl(out_dir / f"{name}.jsonl", by_split[name])
        files[f"{name}.jsonl"] = file_sha256(out_dir / f"{name}.jsonl")
    write_jsonl(out_dir / "preferences.jsonl", pairs)
    files["preferences.jsonl"] = file_sha256(out_dir / "preferences.jsonl")
    manifest = {
        "counts": {name: len(by_split[name]) for name in SPLITS} | {"preferences": len(pairs)},
        "leads": {name: len({r["lead_id"] for r in by_split[name]}) for name in SPLITS},
        "sources": dict(Counter(r["source"] for r in kept)),
        "teachers": dict(Counter(r["teacher"] for r in kept)),
        "filtering": dict(sorted(counts.items())),
        "params": {"min_reward": min_reward, "near_duplicate_threshold": near_duplicate_threshold,
                   "seed": seed, "ratios": vars(ratios), "field_max_chars": field_max_chars},
        "files": files,
        "dataset_sha256": hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest(),
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def load_split(data_dir: Path, split: str) -> list[dict[str, Any]]:
    return list(read_jsonl(data_dir / f"{split}.jsonl"))
