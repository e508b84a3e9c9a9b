"""`outreach retrain`'s whole cycle on a tiny base, with the real broker, Redis and llama.cpp:
feedback from training.feedback -> dataset -> LoRA -> merge -> F16 -> Q8_0 -> head cut -> gate
-> release, and the release loaded as a worker serves it: as a head cut.

The tiny random model writes nonsense, so against the real champion (the configured 270M +
LoRA) the gate must refuse it and nothing may be released; with the comparison limits opened
the same run must release it as challenger: registry blob + manifest, Redis pointer and an
announcement on model.updates.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest
import redis
from prometheus_client import REGISTRY
import yaml

from outreach.kafka import make_producer
from outreach.leadgen import generate
from outreach.releases import read_pointer
from outreach.topics import FEEDBACK, MODEL_UPDATES
from releases.retrain import Run
from schemas.codec import AvroCodec
from tests.streams.feedback_helpers import TopicReader
from workers.reload import ModelHolder, load_release

pytestmark = pytest.mark.integration


@pytest.fixture()
def cycle_settings(settings, tmp_path, tiny_model_dir):
    recipe = {"name": "tiny-retrain", "base": str(tiny_model_dir), "method": "lora",
              "lora": {"r": 4, "alpha": 8, "target_modules": ["q_proj", "v_proj"]},
              "max_steps": 2, "batch_size": 2, "max_length": 96, "save_every": 1,
              "eval_examples": 2, "warmup_steps": 1, "device": "cpu"}
    (tmp_path / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    cfg = settings.model_copy(deep=True)
    cfg.retrain.recipe_path = tmp_path / "recipe.yaml"
    cfg.retrain.runs_dir = tmp_path / "runs"
    cfg.retrain.replay_examples = 30
    cfg.retrain.quant_types = ["Q8_0"]  # the only type a tiny model keeps within the limit
    cfg.retrain.trim_vocab = 32_000  # off by default; the cycle must run the stage when set
    cfg.registry.uri = str(tmp_path / "registry")
    cfg.gate.eval_examples, cfg.gate.max_tokens = 2, 24
    return cfg


def _publish_feedback(settings, unique: str) -> None:
    codec = AvroCodec()
    lead = generate(1, seed=9, campaign=f"cycle-{unique}", malformed=0, duplicates=0,
                    suppressed=0).leads[0]
    producer = make_producer(settings)
    producer.produce(FEEDBACK, key=f"d-{unique}", value=codec.encode("FeedbackExample", {
        "example_id": f"fb-{unique}", "kind": "OUTCOME", "lead": lead, "draft_id": f"d-{unique}",
        "subject": f"{lead['company']}: a quicker first touch",
        "body": f"Hi {lead['first_name']},\n\nA short note about {lead['company']}.\n\nBest,\nSam",
        "model_id": "m", "model_version": "v1", "variant": "control", "labels": ["interested"],
        "reward": 1.0, "created_at": int(time.time() * 1000)}))
    producer.flush(10)


@pytest.mark.slow  # a whole retrain cycle (~3 min); the passing cycle below runs by default and
# tests/releases/test_gate.py checks each refusal rule on its own
def test_a_regressing_candidate_is_refused_and_nothing_is_released(cycle_settings, unique):
    _publish_feedback(cycle_settings, unique)
    report = Run(cycle_settings, run_id=f"refused-{unique}").execute()
    assert not report.ok and report.failed_stage == "gate"
    assert "rubric_drop_vs_champion" in report.error
    names = [s.name for s in report.stages]
    assert names == ["lock", "feedback", "dataset", "train", "merge", "convert", "quantize",
                     "trim_vocab", "gate"]
    feedback = report.stages[1].detail["topic"]
    assert feedback["kept"] >= 1
    run_dir = cycle_settings.retrain.runs_dir / report.run_id
    gate = json.loads((run_dir / "gate.json").read_text())
    assert gate["passed"] is False and gate["champion"]["source"].startswith("configured model")
    assert gate["champion"]["rubric_mean"] > gate["candidate"]["rubric_mean"]
    with redis.Redis.from_url(cycle_settings.redis_url) as client:
        assert read_pointer(client, cycle_settings, "small", "challenger") is None
    assert not (Path(cycle_settings.registry.uri) / "releases").exists()
    saved = json.loads((run_dir / "report.json").read_text())
    assert saved["ok"] is False and saved["failed_stage"] == "gate"


def test_a_passing_candidate_is_released_as_challenger(cycle_settings, unique, caplog):
    cycle_settings.gate.max_rubric_drop = cycle_settings.gate.max_pass_rate_drop = 1.0
    _publish_feedback(cycle_settings, unique)
    reader = TopicReader(cycle_settings, [MODEL_UPDATES])
    try:
        report = Run(cycle_settings, run_id=f"released-{unique}").execute()
        assert report.ok, report.error
        release = report.release
        codec = AvroCodec()
        announced = lambda msgs: [codec.decode(m.value(), "ModelRelease") for m in msgs]  # noqa: E731
        assert reader.until(lambda msgs: any(r["release_id"] == release["release_id"]
                                             for r in announced(msgs)), 30)
    finally:
        reader.close()
    mine = next(r for r in announced(reader.messages) if r["release_id"] == release["release_id"])
    assert mine["role"] == "CHALLENGER" and mine["quant_type"] == "Q8_0"
    assert mine["model_version"] == f"tiny-retrain-released-{unique}"
    with redis.Redis.from_url(cycle_settings.redis_url) as client:
        pointer = read_pointer(client, cycle_settings, "small", "challenger")
    assert pointer["release_id"] == release["release_id"] and pointer["sha256"] == mine["sha256"]
    blob = Path(mine["uri"])
    assert blob.is_file() and blob.parent.name == "sha256" and mine["sha256"] in blob.name
    manifest = json.loads(Path(mine["manifest_uri"]).read_text())
    assert manifest["quant_type"] == "Q8_0" and manifest["gate"]["passed"] is True
    assert manifest["dataset"]["sha256"] and manifest["recipe"]["name"] == "tiny-retrain"
    stages = {s.name: s for s in report.stages}
    assert stages["quantize"].detail["tried"][0]["quant_type"] == "Q8_0"
    # The release is the untrimmed model; its trim (retrain.trim_vocab) is cut before the gate,
    # the gate drafts through it, and the registry keeps it beside the release as its head cut.
    assert stages["trim_vocab"].ok and list(stages).index("trim_vocab") < list(stages).index("gate")
    assert manifest["vocab_trim"]["n_merges"] == cycle_settings.retrain.trim_vocab
    assert manifest["vocab_trim"]["kept"] < manifest["vocab_trim"]["n_vocab_source"]
    assert manifest["gate"]["candidate"]["head_cut"] == manifest["vocab_trim"]["file"]
    cut = manifest["head_cut"]
    assert cut["sha256"] != mine["sha256"] and cut["bytes"] < manifest["size_bytes"]
    assert Path(cut["uri"] + ".manifest.json").is_file()  # the kept ids, read by the head cut
    # A worker loads the release as a head cut, and its log line and metric say so.
    holder = ModelHolder()
    with caplog.at_level(logging.INFO, logger="workers.heads"):
        loaded = load_release(cycle_settings, pointer, slots=2)
        holder.install("challenger", loaded)
    try:
        assert loaded.model.trimmed_path == Path(cut["uri"])
        assert loaded.generator._engine._llama.head is not None  # the engine runs the cut
        assert loaded.generator.generate("Hi Anna,", max_tokens=3, seed=1).completion_tokens > 0
        assert REGISTRY.get_sample_value("outreach_worker_model_head_cut",
                                         {"tier": "small", "slot": "challenger"}) == 1
        assert any("serves" in r.message and "head cut" in r.message for r in caplog.records)
    finally:
        holder.close()
