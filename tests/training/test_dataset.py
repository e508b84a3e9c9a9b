"""Dataset builder: approved only, reward-filtered feedback, preference pairs apart,
near-duplicates removed, splits by lead, manifest with counts and hashes."""

from __future__ import annotations

import json

from training import dataset, leads, teacher_offline
from outreach.hashing import file_sha256
from training.records import write_jsonl


def _feedback(lead, reward, kind="OUTCOME", body="Hi there,\n\nA fresh angle. Call?\n\nBest,\nSam"):
    return {"example_id": f"fb-{lead['lead_id']}-{kind}-{reward}", "kind": kind, "lead": lead,
            "draft_id": "d1", "subject": "Hello", "body": body, "rejected_subject": "Bad",
            "rejected_body": "Buy now!!" if kind == "PREFERENCE_PAIR" else None,
            "model_id": "gemma-270m", "variant": "control", "labels": [], "reward": reward,
            "created_at": 0}


def test_build_splits_by_lead_and_filters(tmp_path, brief):
    rows = leads.generated(120, 9, brief.campaign_id)
    examples = teacher_offline.teach(rows, brief, variants=2)
    for i, ex in enumerate(examples):
        ex.status = "approved" if i % 10 else "rejected"
        ex.approved_by = "human:test" if ex.status == "approved" else None
    duplicate = teacher_offline.teach(rows[:1], brief)[0]
    duplicate.example_id, duplicate.status, duplicate.approved_by = "dup", "approved", "human:t"
    duplicate.body = examples[1].body  # an approved email, word for word
    examples.append(duplicate)
    feedback = tmp_path / "feedback.jsonl"
    write_jsonl(feedback, [_feedback(rows[0], 0.9), _feedback(rows[1], 0.1),
                           _feedback(rows[2], 1.0, "PREFERENCE_PAIR")])
    out = tmp_path / "ds"
    manifest = dataset.build(examples, out, feedback=[feedback], min_reward=0.5)

    splits = {name: dataset.load_split(out, name) for name in dataset.SPLITS}
    lead_sets = [{r["lead_id"] for r in splits[name]} for name in dataset.SPLITS]
    assert not (lead_sets[0] & lead_sets[1]) and not (lead_sets[0] & lead_sets[2]) \
        and not (lead_sets[1] & lead_sets[2])
    assert all(lead_sets) and sum(len(s) for s in splits.values()) == sum(
        manifest["counts"][n] for n in dataset.SPLITS)
    assert manifest["filtering"]["dropped_rejected"] == 24
    assert manifest["filtering"]["dropped_low_reward"] == 1
    assert manifest["filtering"]["dropped_near_duplicate"] >= 1
    assert manifest["sources"]["feedback"] == 1
    assert manifest["counts"]["preferences"] == 1
    pairs = [json.loads(line) for line in (out / "preferences.jsonl").read_text().splitlines()]
    assert pairs[0]["rejected"].endswith("Buy now!!") and pairs[0]["prompt"].startswith("Campaign: ")
    all_ids = {r["example_id"] for rows_ in splits.values() for r in rows_}
    assert pairs[0]["example_id"] not in all_ids  # preference pairs never enter SFT splits
    for name in dataset.SPLITS:
        assert manifest["files"][f"{name}.jsonl"] == file_sha256(out / f"{name}.jsonl")
    row = splits["train"][0]
    assert row["prompt"].endswith("\nEmail:\n") and row["completion"].startswith("Subject: ")


def test_near_duplicate_measure():
    a = dataset.shingles("one two three four five six seven eight nine ten")
    b = dataset.shingles("one two three four five six seven eight nine eleven")
    assert dataset.jaccard(a, a) == 1.0 and 0.6 < dataset.jaccard(a, b) < 1.0
