"""`outreach retrain`: one whole cycle, top to bottom, under a Redis lock.

    lock -> feedback -> dataset -> train -> merge -> convert -> quantize -> trim_vocab -> gate
    -> release

- feedback: FeedbackExamples on training.feedback created after the tier's newest release (all of
  them before the first release), plus any JSONL files given with --feedback.
- dataset: those rows (reward >= training.min_reward) mixed with replay examples from the offline
  teacher (approved by the rubric), so a handful of replies cannot drag the model away from the
  format it serves; split by lead, so the gate's held-out leads were never trained on.
- train: LoRA (the retrain recipe) on the recipe's base; merge: adapter folded into the base ->
  HF model directory; convert: F16 GGUF; quantize: the smallest of retrain.quant_types whose
  perplexity stays within the gate's limit of the F16 (a LoRA merged into a Q4 base loses
  most of its change when requantized to Q4_K_M: +755% perplexity measured, Q8_0 +0.6%).
- trim_vocab (releases/head_cut.py): the release's head cut, written beside it: the vocabulary
  cut to retrain.trim_vocab = N merges + the domain, or (N unset) to the served base's own cut
  (model.trimmed_path); the release stays untrimmed and is served as a head cut of that trim,
  as the configured base is. Neither set: no cut, and the stage is skipped with a warning.
- gate: rubric + perplexity on the held-out split against the tier's champion, the emails drafted
  through the head cut the release will be served with; a failed gate ends the run (exit 1)
  and nothing is released.
- release: registry blobs (the release and its head cut) + manifest, Redis challenger pointer,
  announcement on model.updates; running workers load it beside their champion without a
  restart, as a head cut, and log and export which head they serve (workers/reload.py).

Every run writes <runs_dir>/<run_id>/report.json (stages, seconds, figures, error) whether it
succeeds or not; every intermediate (dataset, adapter, merged model, GGUFs) has its manifest.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import redis

from outreach.errors import LockHeld, OutreachError, RetrainError
from outreach.releases import SLOTS, history_key, read_pointer
from outreach.settings import Settings
from outreach.store import sync_client
from schemas.records import ModelRelease

log = logging.getLogger(__name__)

Say = Callable[[str], None]


@dataclass
class StageResult:
    name: str
    seconds: float
    ok: bool
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunReport:
    run_id: str
    tier: str
    started_at: str
    stages: list[StageResult] = field(default_factory=list)
    release: ModelRelease | None = None
    failed_stage: str | None = None
    error: str | None = None
    lock_held: bool = False  # another run holds the lock: nothing was attempted

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"ok": self.ok}

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2, default=str) + "\n")
        tmp.replace(path)


def new_run_id() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())


def lock_key(settings: Settings, tier: str) -> str:
    return f"{settings.redis.key_prefix}:retrain:{tier}:lock"


def last_release_ms(client: redis.Redis, settings: Settings, tier: str) -> int:
    """created_at of the tier's newest release (either slot, or the history), 0 when none."""
    newest = 0
    for slot in SLOTS:
        release = read_pointer(client, settings, tier, slot)
        if release:
            newest = max(newest, int(release["created_at"]))
    try:
        head = client.lindex(history_key(settings, tier), 0)
    except redis.RedisError:
        head = None
    if head:
        newest = max(newest, int(json.loads(head)["created_at"]))
    return newest


@dataclass
class RunState:
    """What each stage hands to the next; a field is None until its stage has run."""

    feedback_files: list[Path] | None = None
    data_dir: Path | None = None
    dataset_manifest: dict[str, Any] | None = None
    heldout: list[Any] | None = None
    recipe: Any = None
    train_manifest: dict[str, Any] | None = None
    merged: Path | None = None
    f16: Path | None = None
    gguf: Path | None = None
    quantized: dict[str, Any] | None = None
    quant_type: str | None = None
    perplexity: dict[str, Any] | None = None
    trim: dict[str, Any] | None = None
    head_cut: Path | None = None  # the release's trim, served as its head cut
    gate: dict[str, Any] | None = None


class Run:
    """One retraining run; ``execute`` runs the stages in order and always writes the report."""

    def __init__(self, settings: Settings, feedback_files: list[Path] | None = None,
                 say: Say | None = None, run_id: str | None = None) -> None:
        self.settings = settings
        self.tier = settings.retrain.tier
        self.run_id = run_id or new_run_id()
        self.dir = settings.retrain.runs_dir / self.run_id
        self.feedback_files = list(feedback_files or [])
        self.say = say or (lambda message: log.info("%s", message))
        self.report = RunReport(self.run_id, self.tier,
                                time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        self.state = RunState()

    def execute(self) -> RunReport:
        from releases import head_cut
        from releases.lock import RunLock

        if not self.settings.redis_url:
            raise RetrainError("lock", "REDIS_URL is not set: the run lock and the release "
                               "pointers live in Redis")
        client = sync_client(self.settings.redis_url)
        lock = RunLock(client, lock_key(self.settings, self.tier),
                       self.settings.retrain.lock_ttl_s, self.run_id)
        try:
            self._stage("lock", lambda: lock.acquire() or {"key": lock.key})
            for name, step in (("feedback", lambda: self.feedback(client)),
                               ("dataset", self.dataset), ("train", self.train),
                               ("merge", self.merge), ("convert", self.convert),
                               ("quantize", self.quantize),
                               *([("trim_vocab", self.trim_vocab)]
                                 if head_cut.wanted(self.settings) else []),
                               ("gate", self.gate), ("release", self.release)):
                lock.extend()
                self._stage(name, step)
        except OutreachError as exc:
            self.report.failed_stage = getattr(exc, "stage", None) or self.report.failed_stage
            self.report.error = str(exc)
            self.report.lock_held = isinstance(exc, LockHeld)
        finally:
            lock.release()
            client.close()
            self.report.write(self.dir / "report.json")
        return self.report

    def _stage(self, name: str, step: Callable[[], dict[str, Any] | None]) -> None:
        self.say(f"[{name}] ...")
        started = time.perf_counter()
        try:
            detail = step() or {}
        except Exception as exc:  # noqa: BLE001 - a scheduled job reports every failure
            self.report.stages.append(StageResult(name, round(time.perf_counter() - started, 1),
                                                  False))
            self.report.failed_stage = name
            if isinstance(exc, RetrainError):
                raise
            if isinstance(exc, OutreachError):
                raise RetrainError(name, str(exc)) from exc
            log.exception("stage %s failed unexpectedly", name)  # a bug: keep the traceback
            raise RetrainError(name, f"{type(exc).__name__}: {exc}") from exc
        seconds = round(time.perf_counter() - started, 1)
        self.report.stages.append(StageResult(name, seconds, True, detail))
        self.say(f"[{name}] done in {seconds:.1f} s {json.dumps(detail, default=str)[:300]}")

    # -- stages ---------------------------------------------------------------------------

    def feedback(self, client: redis.Redis) -> dict[str, Any]:
        from training.feedback_log import export_feedback

        since = last_release_ms(client, self.settings, self.tier)
        files = list(self.feedback_files)
        counts: dict[str, Any] = {"since_ms": since, "files": [str(f) for f in files]}
        if self.settings.kafka_bootstrap_servers:
            topic_file = self.dir / "feedback.jsonl"
            counts["topic"] = export_feedback(self.settings, since, topic_file)
            files.append(topic_file)
        elif not files:
            raise RetrainError("feedback", "no feedback source: set KAFKA_BOOTSTRAP_SERVERS "
                               "(training.feedback) or pass --feedback FILE")
        self.state.feedback_files = files
        return counts

    def dataset(self) -> dict[str, Any]:
        from training import dataset as builder
        from training import teach
        from training.brief import load_brief
        from training.records import read_examples

        cfg = self.settings.retrain
        brief = load_brief(self.settings.training.brief_path)
        if cfg.teacher_examples:
            examples = read_examples(cfg.teacher_examples)
        else:
            # A new replay sample per run, reproducible from the run id.
            seed = int(hashlib.sha256(self.run_id.encode()).hexdigest()[:8], 16)
            examples = teach.offline_approved(cfg.replay_examples, seed, brief)
        out = self.dir / "dataset"
        manifest = builder.build(examples, out, feedback=self.state.feedback_files,
                                 min_reward=self.settings.training.min_reward,
                                 near_duplicate_threshold=self.settings.training
                                 .near_duplicate_threshold,
                                 field_max_chars=self.settings.checks.field_max_chars)
        if manifest["counts"]["train"] == 0:
            raise RetrainError("dataset", f"no training rows ({manifest['filtering']})")
        heldout = builder.load_split(out, "test") or builder.load_split(out, "validation")
        if not heldout:
            raise RetrainError("dataset", "no held-out rows for the gate")
        self.state.data_dir, self.state.dataset_manifest, self.state.heldout = out, manifest, heldout
        feedback_rows = manifest["sources"].get("feedback", 0)
        return {"counts": manifest["counts"], "feedback_rows": feedback_rows,
                "dataset_sha256": manifest["dataset_sha256"]}

    def train(self) -> dict[str, Any]:
        from training.recipe import load_recipe
        from training.train import train

        recipe = load_recipe(self.settings.retrain.recipe_path)
        last = [0.0]

        def progress(step: int, total: int, loss: float) -> None:
            if time.monotonic() - last[0] > 15 or step == total:
                last[0] = time.monotonic()
                self.say(f"  step {step}/{total} loss {loss:.3f}")

        manifest = train(recipe, self.state.data_dir, self.dir / "train", progress=progress)
        self.state.recipe, self.state.train_manifest = recipe, manifest
        return {k: manifest["metrics"].get(k) for k in
                ("steps", "train_seconds", "tokens_per_second", "validation_loss_before",
                 "validation_loss_after")}

    def merge(self) -> dict[str, Any]:
        from training.merge import merge_run

        merged = merge_run(self.dir / "train", self.dir / "merged")
        self.state.merged = merged
        return {"model_dir": str(merged)}

    def convert(self) -> dict[str, Any]:
        from quantize.convert import to_f16_gguf

        result = to_f16_gguf(self.state.merged, self.dir / "model-f16.gguf", progress=None)
        self.state.f16 = Path(result["path"])
        return result

    def quantize(self) -> dict[str, Any]:
        """The smallest of retrain.quant_types whose held-out perplexity stays within
        gate.max_perplexity_increase of the F16 (~7 s per perplexity on 2 cores)."""
        from quantize.perplexity import perplexity
        from quantize.llama_quant import quantize

        rows = self.state.heldout[:self.settings.gate.eval_examples]
        model, limit = self.settings.model, self.settings.gate.max_perplexity_increase

        def ppl(path: Path) -> dict[str, Any]:
            return perplexity(path, rows, n_threads=model.n_threads,
                              n_gpu_layers=model.n_gpu_layers)

        reference = ppl(self.state.f16)["perplexity"]
        tried = []
        for qtype in self.settings.retrain.quant_types:
            result = quantize(self.state.f16, self.dir / f"model-{qtype}.gguf", qtype,
                              threads=self.settings.quantize.threads)
            measured = ppl(Path(result["path"]))
            increase = measured["perplexity"] / reference - 1
            tried.append({"quant_type": qtype, "bytes": result["bytes"],
                          "perplexity_increase": round(increase, 4)})
            self.say(f"  {qtype}: {result['bytes'] / 1e6:.0f} MB, perplexity "
                     f"{increase:+.1%} against F16 (limit {limit:+.0%})")
            if increase <= limit:
                state = self.state
                state.gguf, state.quantized, state.quant_type = Path(result["path"]), result, qtype
                state.perplexity = {"perplexity": measured["perplexity"],
                                    "f16_perplexity": reference, "tokens": measured["tokens"]}
                return {**result, "f16_perplexity": round(reference, 4), "tried": tried}
        raise RetrainError("quantize", f"no quantization type kept perplexity within "
                           f"{limit:.0%} of the F16: {tried}")

    def trim_vocab(self) -> dict[str, Any]:
        """The release's head cut (releases/head_cut.py), this run's training rows in the corpus
        of a domain cut. The release itself stays untrimmed: the quantize stage's perplexity
        is its own, and the head cut's network is that release's, bit for bit."""
        from releases.head_cut import cut_release

        detail = cut_release(self.settings, self.state.gguf, [self.state.data_dir / "train.jsonl"],
                             self.state.heldout)
        self.state.head_cut = detail.pop("path")
        self.state.trim = detail | {"file": self.state.head_cut.name if self.state.head_cut
                                    else None}
        return self.state.trim

    def gate(self) -> dict[str, Any]:
        from releases.champion import champion_metrics
        from releases.gate import decide, evaluate_candidate

        rows = self.state.heldout[:self.settings.gate.eval_examples]
        if self.state.head_cut is None:
            log.warning("release of %s will be served untrimmed: no head cut (set "
                        "retrain.trim_vocab or model.trimmed_path)", self.tier)
        candidate = evaluate_candidate(self.state.gguf, rows, self.settings,
                                       reference_f16=self.state.f16,
                                       measured_perplexity=self.state.perplexity,
                                       head_cut=self.state.head_cut)
        champion = champion_metrics(self.settings, self.tier, rows)
        report = decide(candidate, champion, self.settings.gate).to_dict()
        report |= {"candidate": candidate, "champion": champion}
        (self.dir / "gate.json").write_text(json.dumps(report, indent=2) + "\n")
        self.state.gate = report
        if not report["passed"]:
            raise RetrainError("gate", "the candidate regresses: " + "; ".join(report["reasons"]))
        return {"passed": True, "candidate": candidate,
                "champion": {k: v for k, v in (champion or {}).items() if k != "examples"}}

    def release(self) -> dict[str, Any]:
        from releases.registry import Registry
        from training.train import git_commit

        recipe = self.state.recipe
        qtype = self.state.quant_type
        train_manifest = self.state.train_manifest
        manifest = {
            "run_id": self.run_id, "tier": self.tier, "quant_type": qtype,
            "base": train_manifest["base"], "recipe": train_manifest["recipe"],
            "dataset": {"sha256": self.state.dataset_manifest["dataset_sha256"],
                        "counts": self.state.dataset_manifest["counts"]},
            "training_metrics": train_manifest["metrics"],
            "gguf": self.state.quantized, "vocab_trim": self.state.trim, "gate": self.state.gate,
            "git_commit": git_commit(),
        }
        record = Registry(self.settings).publish(
            self.state.gguf, manifest, tier=self.tier, role="CHALLENGER",
            model_id=f"{recipe.name}-{qtype}", model_version=f"{recipe.name}-{self.run_id}",
            gate_report=self.state.gate, head_cut=self.state.head_cut)
        self.report.release = record
        return {"release_id": record["release_id"], "sha256": record["sha256"],
                "uri": record["uri"]}


def parse_every(text: str) -> float:
    """'24h', '30m', '90s', '1d' -> seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        value, unit = float(text[:-1]), text[-1].lower()
        seconds = value * units[unit]
    except (ValueError, KeyError, IndexError) as exc:
        raise RetrainError("schedule", f"--every {text!r}: use a number with s, m, h or d "
                           "(e.g. 24h)") from exc
    if seconds <= 0:
        raise RetrainError("schedule", "--every must be positive")
    return seconds
