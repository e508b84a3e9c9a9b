"""The release gate: score a quantized candidate, then pass or fail it against its tier's champion.

evaluate_candidate() measures, on held-out test rows (training/dataset.py test.jsonl):
- the rubric (training/rubric.py) of emails the GGUF writes through the worker's own engine with
  the trained prompt and no LoRA (training.evaluate.gguf_writer + run_system), so the score is
  what serving would get; a release with a head cut (releases/head_cut.py) drafts through the
  batched engine serving that cut, as workers will;
- pass_rate: the share of those emails passing every hard check the worker applies before a
  draft may be sent (generation.checks.check_draft, the worker's own checks);
- perplexity on the reference emails (quantize/perplexity.py), of the candidate and of its F16
  source, so a broken quantization shows even when sampling happens to write good emails.
decide() is a pure function of those numbers and GateSettings; its report is kept with the release.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from outreach.errors import OutreachError, QuantizeError
from outreach.settings import GateSettings, Settings
from quantize.perplexity import perplexity

# Differences below this are rounding noise from storing metrics as rounded JSON numbers, not
# regressions (the rubric is stored to 4 decimals).
_EPS = 1e-6


@dataclass
class GateReport:
    passed: bool
    reasons: list[str]
    checks: list[dict[str, Any]]  # {name, value, limit, ok} (+ "skipped" where not applicable)
    candidate: dict[str, Any] = field(default_factory=dict)
    champion: dict[str, Any] | None = None
    thresholds: dict[str, Any] = field(default_factory=dict)
    decided_at: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _number(metrics: dict[str, Any] | None, key: str) -> float | None:
    value = (metrics or {}).get(key)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) \
        else None


def _check(name: str, value: float | None, limit: float, ok: bool,
           skipped: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "value": None if value is None else round(value, 6),
                           "limit": limit, "ok": ok}
    if skipped:
        out["skipped"] = skipped
    return out


def decide(candidate: dict[str, Any], champion: dict[str, Any] | None,
           cfg: GateSettings) -> GateReport:
    """Pass only if no check fails. ``champion`` None (the tier's first release): the
    comparisons with a champion are skipped and only the absolute checks decide."""
    checks: list[dict[str, Any]] = []
    ppl, f16 = _number(candidate, "perplexity"), _number(candidate, "f16_perplexity")
    rubric, pass_rate = _number(candidate, "rubric_mean"), _number(candidate, "pass_rate")
    n = _number(candidate, "n")
    checks.append(_check("examples", n, 1, n is not None and n >= 1))
    # Scores are shares in [0, 1]; a missing or out-of-range one means the evaluation broke.
    for name, value in (("rubric_measured", rubric), ("pass_rate_measured", pass_rate)):
        checks.append(_check(name, value, 1, value is not None and 0 <= value <= 1))
    ppl_ok = ppl is not None and math.isfinite(ppl) and ppl > 0
    checks.append(_check("perplexity_finite", ppl, math.inf, ppl_ok))
    if f16 is None or not math.isfinite(f16) or f16 <= 0:
        checks.append(_check("perplexity_increase_vs_f16", None, cfg.max_perplexity_increase,
                             True, skipped="no F16 reference perplexity"))
    elif not ppl_ok:  # already failed above; a ratio of a NaN says nothing more
        checks.append(_check("perplexity_increase_vs_f16", None, cfg.max_perplexity_increase,
                             True, skipped="candidate perplexity not finite"))
    else:
        increase = ppl / f16 - 1
        checks.append(_check("perplexity_increase_vs_f16", increase, cfg.max_perplexity_increase,
                             increase <= cfg.max_perplexity_increase + _EPS))
    for name, key, value, limit in (
            ("rubric_drop_vs_champion", "rubric_mean", rubric, cfg.max_rubric_drop),
            ("pass_rate_drop_vs_champion", "pass_rate", pass_rate, cfg.max_pass_rate_drop)):
        base = _number(champion, key)
        if champion is None or base is None or value is None:
            why = "no champion in this tier" if champion is None else \
                f"champion has no {key}" if base is None else f"candidate has no {key}"
            checks.append(_check(name, None, limit, True, skipped=why))
        else:
            checks.append(_check(name, base - value, limit, base - value <= limit + _EPS))
    failed = [c for c in checks if not c["ok"]]
    reasons = [f"{c['name']}: {c['value']} exceeds the limit {c['limit']}"
               if c["value"] is not None else f"{c['name']}: not measured" for c in failed]
    reasons += [f"{c['name']} skipped: {c['skipped']}" for c in checks if c.get("skipped")]
    if not failed:
        reasons.insert(0, f"passed {len(checks) - sum('skipped' in c for c in checks)} checks")
    return GateReport(passed=not failed, reasons=reasons, checks=checks, candidate=candidate,
                      champion=champion, thresholds=cfg.model_dump(),
                      decided_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))


def evaluate_candidate(gguf: Path, heldout_rows: list[dict[str, Any]], settings: Settings,
                       reference_f16: Path | None, *, brief: Any = None,
                       progress: Callable[[str], None] | None = None,
                       lora: Path | None = None, style: str = "trained",
                       measured_perplexity: dict[str, Any] | None = None,
                       head_cut: Path | None = None) -> dict[str, Any]:
    """Metrics of ``gguf`` on the first ``settings.gate.eval_examples`` held-out rows:
    rubric_mean, pass_rate, perplexity, f16_perplexity (None without ``reference_f16``), n,
    plus the rubric's components and a line per example.

    ``lora``/``style`` score a served base + adapter (the champion before any release); its
    perplexity is not measured then (perplexity.py loads no adapter) and is None.
    ``measured_perplexity`` ({"perplexity", "f16_perplexity", "tokens"} on the same rows)
    skips measuring again what the caller already measured (the retrain's quantize stage).
    ``head_cut``: a trim of ``gguf`` the emails are drafted through (the batched engine, the only
    one serving a head cut); perplexity stays the untrimmed file's, whose network it runs."""
    from training import evaluate
    from training.brief import load_brief
    from generation.checks import check_draft
    from generation.draft import Draft

    rows = heldout_rows[:settings.gate.eval_examples]
    if not rows:
        raise QuantizeError("the gate needs held-out rows (the dataset's test.jsonl is empty)")
    brief = brief or load_brief(settings.training.brief_path)
    cfg = settings.model_copy(deep=True)
    cfg.model.gguf_path, cfg.model.lora_path = Path(gguf), lora
    # A trim is cut from one network: the configured base's is not this candidate's.
    cfg.model.trimmed_path = Path(head_cut) if head_cut is not None else None
    cfg.model.prompt_style = style  # a released miniature is served with the trained prompt
    say = progress or (lambda _msg: None)
    say(f"gate: writing {len(rows)} emails with {Path(gguf).name}"
        + (f" served as a head cut of {Path(head_cut).name}" if head_cut is not None else ""))
    try:
        writer = (evaluate.batched_gguf_writer(cfg, lora, style, settings.gate.max_tokens, rows)
                  if head_cut is not None else
                  evaluate.gguf_writer(cfg, lora, style, settings.gate.max_tokens))
        result = evaluate.run_system(Path(gguf).name, writer, rows, brief,
                                     settings.worker.usd_per_vcpu_hour)
    except (OutreachError, OSError, RuntimeError, ValueError) as exc:  # model, embeddings
        raise QuantizeError(f"gate evaluation of {gguf} failed: {exc}") from exc
    finally:
        writer = None  # noqa: F841 - drops the loaded model before the perplexity runs load theirs
    examples, passing = [], 0
    campaigns = evaluate.Campaigns(brief)  # each row's own campaign; the brief for older rows
    for row, ex in zip(rows, result["examples"]):
        failures = check_draft(Draft(ex["subject"], ex["body"], ex.get("complete", True)),
                               row["lead"], settings.checks, campaigns.of(row))
        passing += not failures
        examples.append({"lead_id": ex["lead_id"], "subject": ex["subject"],
                         "overall": ex["overall"], "flags": ex["flags"],
                         "check_failures": failures})
    model = settings.model
    ppl = dict(measured_perplexity or {"perplexity": None, "f16_perplexity": None, "tokens": 0})
    if lora is None and measured_perplexity is None:
        say(f"gate: perplexity of {Path(gguf).name}")
        measured = perplexity(Path(gguf), rows, n_threads=model.n_threads,
                              n_gpu_layers=model.n_gpu_layers)
        ppl.update(perplexity=measured["perplexity"], tokens=measured["tokens"])
        if reference_f16 is not None:
            say(f"gate: perplexity of {Path(reference_f16).name}")
            ppl["f16_perplexity"] = perplexity(Path(reference_f16), rows,
                                               n_threads=model.n_threads,
                                               n_gpu_layers=model.n_gpu_layers)["perplexity"]
    summary = result["summary"]
    return {"rubric_mean": summary["overall"], "pass_rate": round(passing / len(rows), 4),
            "head_cut": Path(head_cut).name if head_cut is not None else None,
            "perplexity": ppl["perplexity"], "f16_perplexity": ppl["f16_perplexity"],
            "n": len(rows), "rubric": {k: summary[k] for k in evaluate.COMPONENTS},
            "flag_rate": summary["flag_rate"], "seconds_per_email": summary["seconds_per_email"],
            "perplexity_tokens": ppl["tokens"], "examples": examples}
