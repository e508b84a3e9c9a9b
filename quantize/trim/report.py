"""`outreach quantize report`: choose the trim's N by measurement.

For each N, on the served model (base GGUF + adapter, serving prompt style):
- tokenization of the held-out evaluation rows: share of prompts and of reference emails the
  trimmed vocabulary tokenizes unchanged, and prompt length growth by script slice (a name in
  a script the corpus never saw falls back to characters or bytes);
- quality: rubric and the worker's hard checks (pass rate) of the trimmed model against the
  untrimmed one on the same held-out rows, seeds and sampling, by script slice
  (training/evaluate.py, the code `outreach eval` runs);
- speed: the decode ceiling (one 64-token decode, logits for all) and the bare 16-sequence
  loop of bench/limits.py.
Rule: the smallest N whose rubric stays within ``MAX_RUBRIC_DROP`` of the untrimmed model and
whose pass rate does not drop, on every slice.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from outreach.errors import QuantizeError
from outreach.settings import Settings

# "Within 1 point" of a 0..1 rubric read as 100 points.
MAX_RUBRIC_DROP = 0.01
SLICES = ("all", "latin", "non_latin")
TEST_DATA = Path("training-data/campaigns")


def eval_rows(data: Path, per_slice: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(rows for generation: the first ``per_slice`` of each script, or all of them when
    ``per_slice`` is 0; all test rows)."""
    from training.dataset import load_split

    rows = load_split(data, "test")
    if not rows:
        raise QuantizeError(f"no held-out rows in {data}/test.jsonl (python -m "
                            "training.campaign_data --out training-data/campaigns)")
    picked = [r for script in ("latin", "non_latin")
              for r in [r for r in rows if r.get("script", "latin") == script][:per_slice or None]]
    return picked, rows


def tokenization(full: Path, trimmed: Path, keep: Any, rows: list[dict[str, Any]]) -> dict:
    from quantize.trim.tokens import coverage

    out: dict[str, Any] = {
        "prompts": coverage(full, trimmed, keep, [r["prompt"] for r in rows]).as_dict(),
        "emails": coverage(full, trimmed, keep, [r["completion"] for r in rows]).as_dict()}
    for script in ("latin", "non_latin"):
        mine = [r for r in rows if r.get("script", "latin") == script]
        if mine:
            out[f"prompts_{script}"] = coverage(full, trimmed, keep,
                                                [r["prompt"] for r in mine]).as_dict()
            out[f"emails_{script}"] = coverage(full, trimmed, keep,
                                               [r["completion"] for r in mine]).as_dict()
    return out


def quality(settings: Settings, gguf: Path, rows: list[dict[str, Any]],
            seeds: int = 1, adapter: Path | None = None,
            head_of: Path | None = None) -> dict[str, Any]:
    """Rubric and pass rate by slice of ``gguf`` + ``adapter`` (default: the served one) on
    ``rows``, each row drafted ``seeds`` times (seed 1000 + index, the same for every model
    compared), all on the batched engine. ``passes`` keeps each email's pass/fail in row order
    for paired tests. ``head_of``: serve the trim ``gguf`` as a head cut of that source model
    (generation/head_cut.py) instead of as a model of its own."""
    from training import evaluate

    cfg = settings.model_copy(deep=True)
    cfg.model.gguf_path = head_of or gguf
    cfg.model.trimmed_path = gguf if head_of is not None else None
    style = "fewshot" if settings.model.prompt_style == "few_shot" else "trained"
    repeated = [row for _ in range(max(1, seeds)) for row in rows]
    campaigns = evaluate.Campaigns()
    writer = evaluate.batched_gguf_writer(cfg, adapter or settings.model.lora_path, style,
                                          settings.gate.max_tokens, repeated, campaigns)
    result = evaluate.run_system(gguf.name, writer, repeated, campaigns,
                                 settings.worker.usd_per_vcpu_hour)
    by_slice = {"all": result["summary"], **result["slices"]}
    out: dict[str, Any] = {key: {"n": s["n"], "rubric": s["overall"], "pass_rate": s["pass_rate"],
                                 "seconds_per_email": s["seconds_per_email"]}
                           for key, s in by_slice.items() if key in SLICES}
    out["passes"] = [[e["script"], bool(e["passes_checks"])] for e in result["examples"]]
    failures: dict[str, int] = {}
    for example in result["examples"]:
        for reason in example["check_failures"]:
            kind = str(reason).split(":")[0][:60]
            failures[kind] = failures.get(kind, 0) + 1
    out["failures"] = dict(sorted(failures.items(), key=lambda kv: -kv[1]))
    return out


def paired(base: dict[str, Any], candidate: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """By slice, on the same rows and seeds: emails only the untrimmed model passed, emails
    only the candidate passed, and the two-sided exact sign-test p-value of that split (a
    McNemar test): how much of a pass-rate gap sampling alone would explain."""
    from math import comb

    out = {}
    pairs = list(zip(base.get("passes", []), candidate.get("passes", [])))
    for key in SLICES:
        mine = [(b[1], c[1]) for b, c in pairs if key == "all" or b[0] == key]
        if not mine:
            continue
        only_base = sum(b and not c for b, c in mine)
        only_cand = sum(c and not b for b, c in mine)
        n, k = only_base + only_cand, min(only_base, only_cand)
        p = min(1.0, 2 * sum(comb(n, i) for i in range(k + 1)) / 2 ** n) if n else 1.0
        out[key] = {"only_untrimmed": only_base, "only_trimmed": only_cand, "p": round(p, 4)}
    return out


def trained_on(adapter: Path) -> tuple[Path, int]:
    """(the trimmed GGUF, its N) an adapter trained by `outreach train` was trained on, from
    the manifest.json beside adapter.gguf and the trim's own manifest; the GGUF must still have
    the sha256 training recorded: an adapter trained on a trimmed vocabulary only fits a GGUF
    with exactly those token ids."""
    from outreach.hashing import file_sha256
    from quantize.manifest import manifest_path

    manifest = adapter.parent / "manifest.json"
    try:
        base = json.loads(manifest.read_text())["base"]
        path, sha = Path(base["path"]), str(base["sha256"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise QuantizeError(f"{adapter}: no training manifest naming its base ({manifest}); "
                            "--trimmed-adapter takes an `outreach train` output") from exc
    if not path.is_file() or file_sha256(path) != sha:
        raise QuantizeError(f"{adapter} was trained on {path} (sha256 {sha[:16]}...), which is "
                            "gone or has changed")
    try:
        n_merges = int(json.loads(manifest_path(path).read_text())["recipe"]["n_merges"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise QuantizeError(f"{path} is not a vocabulary trim with a manifest") from exc
    return path, n_merges


def speed(settings: Settings, gguf: Path, prompt: str) -> dict[str, float]:
    from bench.limits import decode_ceiling

    limits, weight_bytes = decode_ceiling(gguf, settings.model, prompt,
                                          lora_path=settings.model.lora_path)
    return {k: round(v, 1) for k, v in limits.items()} | {"model_bytes": weight_bytes}


def greedy_outputs(settings: Settings, gguf: Path, rows: list[dict[str, Any]]) -> list[list[int]]:
    """The untrimmed model's greedy email tokens for ``rows`` (the serving prompt and adapter),
    all rows decoded together on the batched engine."""
    from training import evaluate
    from generation.batch import BatchEngine, GenRequest
    from generation.prompt import STOP_SEQUENCES

    campaigns = evaluate.Campaigns()
    style = "fewshot" if settings.model.prompt_style == "few_shot" else "trained"
    prompts = [evaluate._prompt(row, campaigns, settings, style)[0] for row in rows]
    with BatchEngine(gguf, settings.model, slots=min(16, len(rows)),
                     lora_path=settings.model.lora_path) as engine:
        results = engine.generate_many([GenRequest(p, max_tokens=settings.gate.max_tokens,
                                                   temperature=0.0, stop=STOP_SEQUENCES)
                                        for p in prompts])
    return [list(r.tokens) for r in results]


def greedy_identity(outputs: list[list[int]], rows: list[dict[str, Any]],
                    keep: Any) -> dict[str, dict[str, float]]:
    """By slice: the share of emails whose greedy tokens are all kept (the trimmed model then
    writes the same email: kept rows give the same logits) and the share of tokens dropped."""
    kept = set(int(i) for i in keep)
    out = {}
    for key in SLICES:
        mine = [o for o, r in zip(outputs, rows) if key == "all" or r.get("script", "latin") == key]
        if mine:
            tokens = sum(len(o) for o in mine)
            out[key] = {"n": len(mine),
                        "identical_share": round(sum(set(o) <= kept for o in mine) / len(mine), 4),
                        "dropped_token_share": round(sum(t not in kept for o in mine for t in o)
                                                     / max(1, tokens), 5)}
    return out


def meets_rule(base: dict[str, Any], candidate: dict[str, Any]) -> list[str]:
    """Why ``candidate``'s quality misses the rule against ``base`` ([] = it meets it)."""
    misses = []
    for key in SLICES:
        if key not in base:
            continue
        b, c = base[key], candidate.get(key, {})
        if c.get("rubric", 0) < b["rubric"] - MAX_RUBRIC_DROP:
            misses.append(f"{key}: rubric {c.get('rubric')} < {b['rubric']} - {MAX_RUBRIC_DROP}")
        if c.get("pass_rate", 0) < b["pass_rate"]:
            misses.append(f"{key}: pass rate {c.get('pass_rate')} < {b['pass_rate']}")
    return misses


def markdown(report: dict[str, Any]) -> str:
    head = ("| model | kept tokens | MB | prompts unchanged | emails unchanged | non-Latin prompt "
            "growth | email tokens dropped latin / non-Latin | rubric all / latin / non-Latin "
            "| pass all / latin / non-Latin | greedy emails identical all / latin / non-Latin | "
            "ceiling tok/s | bare loop tok/s |")
    lines = [head, "|" + "---|" * 12]
    for row in report["models"]:
        q, t, s = row["quality"], row.get("tokenization", {}), row["speed"]

        def trio(field: str, fmt: str, q: dict = q) -> str:
            return " / ".join(format(q[k][field], fmt) if k in q else "-" for k in SLICES)

        share = lambda key: f"{t[key]['unchanged_share']:.1%}" if key in t else "-"  # noqa: E731
        growth = (f"{t['prompts_non_latin']['token_growth']:+.1%}"
                  if "prompts_non_latin" in t else "-")
        dropped = " / ".join(f"{t[key]['dropped_token_share']:.2%}" if key in t else "-"
                             for key in ("emails_latin", "emails_non_latin"))
        lines.append(f"| {row['name']} | {row['kept']:,} | {row['bytes'] / 1e6:.0f} | "
                     f"{share('prompts')} | {share('emails')} | {growth} | {dropped} | "
                     f"{trio('rubric', '.3f')} | {trio('pass_rate', '.0%')} | "
                     f"{trio('identical_share', '.0%', row.get('greedy', {}))} | "
                     + (f"{s['logits_all_tok_s']:.0f} | {s['bare_loop_tok_s']:.0f} |"
                        if s else "- | - |"))
    lines.append("")
    for row in report["models"][1:]:
        if row.get("paired"):
            lines.append(f"- {row['name']}, paired with the untrimmed model (emails only it passed "
                         "/ only the trim passed, sign-test p): " + "; ".join(
                             f"{k} {v['only_untrimmed']} / {v['only_trimmed']}, p={v['p']}"
                             for k, v in row["paired"].items()))
        if row.get("misses"):
            lines.append(f"  misses: {'; '.join(row['misses'])}")
    lines.append(f"- {report.get('rows', '?')} held-out rows x {report.get('seeds', 1)} seed(s).")
    lines.append("")
    lines.append(f"Chosen: {report['chosen']} (rule: rubric within {MAX_RUBRIC_DROP} and no "
                 "pass-rate drop on every slice; smallest N that meets it).")
    return "\n".join(lines)


def run_report(settings: Settings, sizes: Sequence[int], out_dir: Path,
               datasets: Sequence[Path] | None = None, rows_per_slice: int = 12,
               data: Path = TEST_DATA, say: Callable[[str], Any] = print,
               measure_speed: bool = True, measure_quality: bool = True,
               seeds: int = 1, trimmed_adapter: Path | None = None,
               head: bool = True) -> dict[str, Any]:
    """Trim the served model for every N in ``sizes``, measure, write trim-report.json/.md.

    ``trimmed_adapter``: an adapter trained on a trim (`outreach train --base <trimmed.gguf>`);
    that trim is measured, drafted with it, instead of trims for ``sizes`` drafted with the
    served adapter (which was trained on the untrimmed tokenization).

    ``head``: draft each trim as the engine serves it, a head cut of the untrimmed model
    (``model.trimmed_path``); False drafts it as a model of its own (its own tokenization)."""
    from quantize.trim.corpus import build_corpus
    from quantize.trim.step import DEFAULT_DATASETS, trimmed_name
    from quantize.manifest import manifest_path
    from quantize.trim.vocab import TrimResult, kept_ids, read_vocab, trim
    from generation.model import resolve_model
    from generation.prompt import STOP_SEQUENCES

    model = resolve_model(settings)
    sample, all_rows = eval_rows(data, rows_per_slice)
    corpus = build_corpus(settings, datasets=list(datasets or DEFAULT_DATASETS)) \
        if trimmed_adapter is None else []
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.time()
    trims: dict[int, tuple[Path, Any]] = {}
    if trimmed_adapter is not None:
        import gguf

        # The trim that adapter was trained on, byte for byte (its training manifest names the
        # GGUF and its sha256): re-trimming could differ where the corpus does.
        path, n_merges = trained_on(trimmed_adapter)
        n_vocab = len(read_vocab(gguf.GGUFReader(model.path)))
        trims[n_merges] = (path, TrimResult(path, manifest_path(path),
                                            kept_ids(model.path, path), n_vocab, {}, None))
    for n in sorted(sizes) if trimmed_adapter is None else ():
        path = out_dir / trimmed_name(model.path, n)
        if path.exists():
            path.unlink()  # a report always measures fresh files
            path.with_name(path.name + ".manifest.json").unlink(missing_ok=True)
        trims[n] = (path, trim(model.path, path, n, corpus, adapter=model.lora_path,
                               required_texts=STOP_SEQUENCES))
    say(f"greedy emails of the untrimmed model for {len(sample)} held-out rows")
    greedy = greedy_outputs(settings, model.path, sample)
    say(f"untrimmed {model.path.name}: quality on {len(sample)} held-out rows, speed "
        f"({measure_quality=}, {measure_speed=})")
    rows = [{"name": "untrimmed", "n_merges": None, "kept": 0, "path": str(model.path),
             "bytes": model.path.stat().st_size,
             "quality": quality(settings, model.path, sample, seeds) if measure_quality
             else {},
             "speed": speed(settings, model.path, sample[0]["prompt"]) if measure_speed
             else {}}]
    for n, (path, result) in trims.items():
        adapter = trimmed_adapter  # set only when the one trim measured is the adapter's own
        say(f"N={n}: {len(result.keep):,} tokens kept; measuring"
            + (f" with {adapter}" if adapter else ""))
        head_of = model.path if head and adapter is None else None
        rows.append({"name": f"trim {n // 1000}k" + (", own adapter" if adapter else "")
                     + (", head cut" if head_of else ""),
                     "n_merges": n, "kept": len(result.keep), "adapter": str(adapter or
                                                                            model.lora_path),
                     "path": str(path), "bytes": path.stat().st_size,
                     "tokenization": tokenization(model.path, path, result.keep, all_rows),
                     "greedy": greedy_identity(greedy, sample, result.keep),
                     "quality": quality(settings, path, sample, seeds, adapter, head_of)
                     if measure_quality else {},
                     "speed": speed(settings, path, sample[0]["prompt"]) if measure_speed
                     else {}})
        rows[0]["kept"] = result.n_vocab
    base = rows[0]["quality"]
    for row in rows[1:]:
        row["misses"] = meets_rule(base, row["quality"])
        row["paired"] = paired(base, row["quality"])
    # Without generation the rule cannot be applied: no choice is made from tokens alone.
    chosen = next((row["n_merges"] for row in rows[1:] if not row["misses"]), None) \
        if measure_quality else None
    report = {"model": {"path": str(model.path), "adapter": str(model.lora_path),
                        "trimmed_adapter": str(trimmed_adapter) if trimmed_adapter else None,
                        "prompt_style": settings.model.prompt_style},
              "rows_per_slice": rows_per_slice, "rows": len(sample), "seeds": seeds,
              "test_rows": len(all_rows),
              "corpus_texts": len(corpus), "chosen": chosen, "models": rows,
              "seconds": round(time.time() - started, 1)}
    report["markdown"] = markdown(report)
    (out_dir / "trim-report.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    (out_dir / "trim-report.md").write_text(report["markdown"] + "\n")
    return report
