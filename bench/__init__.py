"""`outreach bench`: the batched engine against llama-cpp-python's Llama and server, one run.

Same model, same prompts (built from generated leads by generation.prompt), same seeds and
sampling, same machine, and the machine's limits (memory bandwidth, the decode ceiling)
measured in the same run, optionally in interleaved rounds. ``run_bench`` returns a
BenchReport and writes bench.json and bench.md; rows measured elsewhere (the Kafka pipeline,
"d") come in through ``extra_rows`` so they share the rounds, and single metrics (the intake
rate) can be added afterwards with ``add_metric`` and the report written again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from outreach import leadgen
from outreach.errors import ConfigError
from outreach.settings import Settings
from schemas.campaign import Campaign, load_campaign
from generation.batch_context import physical_cores
from bench.limits import (OtherLoad, busy_note, decode_ceiling, load_average,
                                   machine_info, memory_bandwidth_gbs)
from bench.report import BenchReport, BenchRow, Prices
from bench.runners import Workload, row_runners
from generation.model import resolve_model
from generation.prompt import STOP_SEQUENCES, build_prompt

__all__ = ["BenchReport", "BenchRow", "Prices", "Workload", "build_workload", "run_bench"]

log = logging.getLogger(__name__)
ExtraRow = Callable[[int], BenchRow]  # emails -> the measured row

# gpt-4o-mini list prices (USD per 1M tokens), as training.teacher's defaults.
API_USD_PER_M_INPUT = 0.15
API_USD_PER_M_OUTPUT = 0.60
ROW_TITLES = {"a": "Llama, sequential", "b": "llama_cpp.server", "c": "BatchEngine",
              "d": "Kafka pipeline", "td": "Kafka pipeline, head cut"}
# Rows measured again on the vocabulary-trimmed model ("ta", "tc") when run_bench gets one;
# an extra row "x" is, when extra_rows has a "tx" too (the pipeline: "td").
TRIMMED_ROWS = ("a", "c")


# The bench's workload campaign: an example brief from the repository (any campaign works).
BENCH_CAMPAIGN = Path(__file__).resolve().parents[1] / "campaigns/examples/ledgerline-ap.yaml"


def build_workload(settings: Settings, emails: int, seed: int = 7,
                   max_tokens: int | None = None, campaign: Campaign | None = None) -> Workload:
    """``emails`` prompts from generated leads of one campaign, with the worker's sampling
    settings; every prompt starts with the campaign's shared prefix."""
    campaign = campaign or load_campaign(BENCH_CAMPAIGN)
    leads = leadgen.generate(emails, seed=seed, malformed=0, duplicates=0, suppressed=0,
                             campaign=campaign.campaign_id).leads
    cfg = settings.model
    prompts = [build_prompt(lead, campaign, None, settings) for lead in leads[:emails]]
    prefix = prompts[0].static_prefix if prompts else ""
    return Workload(prompts=[prompt.text for prompt in prompts],
                    prefix=prefix, stop=tuple(STOP_SEQUENCES),
                    max_tokens=max_tokens or cfg.max_tokens, temperature=cfg.temperature,
                    top_p=cfg.top_p, repeat_penalty=cfg.repeat_penalty, seed=seed)


def run_bench(settings: Settings, emails: int, concurrency: int, out_dir: Path, *,
              rows: Sequence[str] = ("a", "b", "c"), baseline_emails: int | None = None,
              max_tokens: int | None = None, usd_per_vcpu_hour: float | None = None,
              api_usd_per_m_input: float = API_USD_PER_M_INPUT,
              api_usd_per_m_output: float = API_USD_PER_M_OUTPUT, seed: int = 7,
              rounds: int = 1, extra_rows: Mapping[str, ExtraRow] | None = None,
              progress: bool = True, console: Console | None = None,
              trimmed: Path | None = None, trimmed_folded: bool = False) -> BenchReport:
    """Measure ``rows`` on ``emails`` emails and write bench.json + bench.md.

    ``baseline_emails`` runs (a) and (b) on only the first that many prompts (they are ~3x
    slower); rates are per email, so rows stay comparable. ``concurrency`` is both the number
    of HTTP clients of (b) and the number of sequences (and clients) of (c). ``extra_rows``
    adds rows measured elsewhere (the Kafka pipeline, "d"): key -> a function of the number of
    emails that returns the row.

    With ``rounds`` > 1 the machine limits and every row are measured ``rounds`` times,
    interleaved (limits, a, b, c, d, limits, a, ...), and each row's rounds are pooled. On a
    shared 2-core VM the same row's rate drifted by up to 40% within minutes (measured), so a
    ratio of two rows measured minutes apart says as much about the drift as about the rows;
    interleaved rounds let every row sample the same stretches of time.

    ``trimmed``: the same model with its vocabulary trimmed (quantize/trim/vocab.py, same
    adapter); rows "ta" and "tc" run (a) and (c) on it in the same rounds, and its own limits
    are measured beside the untrimmed ones (ceiling keys prefixed "trim_"). Those rows load the
    served adapter unless ``trimmed_folded`` (the adapter is folded into the trimmed file).
    Row "tc" serves the trim as the engine does with ``model.trimmed_path`` set, as a head cut
    of the untrimmed model (generation/head_cut.py); "ta" (llama-cpp-python's ``Llama``, which
    has no head cut) runs the trimmed file as a model of its own.
    """
    extra_rows = dict(extra_rows or {})
    runners = row_runners()
    model = resolve_model(settings)
    trimmed_lora = None if trimmed_folded else model.lora_path
    untrimmed_cfg = settings.model.model_copy(update={"trimmed_path": None})
    if trimmed is not None:
        rows = [*rows, *(f"t{key}" for key in rows
                         if key in TRIMMED_ROWS or f"t{key}" in extra_rows)]
    unknown = {r for r in rows if r.removeprefix("t") not in runners} - set(extra_rows)
    if unknown or emails < 1 or concurrency < 1 or rounds < 1:
        raise ConfigError(f"bench: unknown rows {sorted(unknown)} or emails/concurrency/rounds "
                          "< 1")
    threads = settings.model.n_threads or physical_cores()
    work = build_workload(settings, emails, seed, max_tokens)
    prices = Prices(usd_per_vcpu_hour if usd_per_vcpu_hour is not None
                    else settings.worker.usd_per_vcpu_hour, api_usd_per_m_input,
                    api_usd_per_m_output)
    report = BenchReport(machine=machine_info(threads), prices=prices, weight_bytes=0, model={
        "name": model.model_id, "path": str(model.path), "sha256": model.sha256,
        "n_gpu_layers": settings.model.n_gpu_layers, "max_tokens": work.max_tokens,
        "temperature": work.temperature, "emails": emails, "concurrency": concurrency,
        "rounds": rounds, "trimmed": str(trimmed) if trimmed else None,
        "trimmed_adapter": str(trimmed_lora) if trimmed_lora else "folded" if trimmed_folded
        else None})
    console = console or Console(stderr=True)
    others = OtherLoad()
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, disable=not progress) as bar:
        for round_no in range(1, rounds + 1):
            tag = f"[{round_no}/{rounds}] " if rounds > 1 else ""
            task = bar.add_task(f"{tag}memory bandwidth", total=None)
            bandwidth = memory_bandwidth_gbs()
            bar.update(task, description=f"{tag}decode ceiling")
            ceiling, report.weight_bytes = decode_ceiling(
                model.path, settings.model, work.prompts[0], n_threads=threads,
                lora_path=model.lora_path, loop_sequences=concurrency)
            if trimmed is not None:
                trim_ceiling, report.trim_weight_bytes = decode_ceiling(
                    trimmed, settings.model, work.prompts[0], n_threads=threads,
                    lora_path=trimmed_lora, loop_sequences=concurrency)
                ceiling |= {f"trim_{k}": v for k, v in trim_ceiling.items()}
            report.pool_limits(bandwidth, ceiling)
            bar.remove_task(task)
            for key in rows:
                base_key = key if key in extra_rows else key.removeprefix("t")
                baseline = base_key in ("a", "b") and baseline_emails
                n = min(emails, baseline_emails) if baseline else emails
                title = ROW_TITLES.get(base_key, key)
                task = bar.add_task(f"{tag}({key}) {title}", total=n)
                started = time.perf_counter()
                if key in extra_rows:
                    row = extra_rows[key](n)
                    bar.advance(task, n)
                else:
                    path, lora, cfg = model.path, model.lora_path, untrimmed_cfg
                    if key != base_key and base_key == "c":  # the head cut, as served
                        lora = trimmed_lora
                        cfg = untrimmed_cfg.model_copy(update={"trimmed_path": trimmed})
                    elif key != base_key:
                        path, lora = trimmed, trimmed_lora
                    row = runners[base_key](path, cfg, work.head(n), concurrency,
                                            threads, lora, lambda task=task: bar.advance(task))
                    if key != base_key:
                        how = ("head cut" if base_key == "c" else "own tokenization") + (
                            ", adapter folded" if trimmed_folded else "")
                        row.key, row.label = key, f"trimmed vocabulary ({how}): {row.label}"
                log.info("bench %srow %s: %d emails in %.1f s", tag, key, row.emails,
                         time.perf_counter() - started)
                report.pool_row(row)
    report.machine["load_after"] = load_average()
    report.machine["other_cores"] = round(others.cores(), 2)
    busy = busy_note(report.machine["other_cores"], report.machine["cores"])
    if busy:
        report.machine["busy"] = busy
        log.warning("bench: %s", busy)
    report.write(out_dir)
    return report
