"""The release commands of the `outreach` CLI: retrain and release (list/publish/promote/
rollback). ``register(app)`` adds them to the main typer app; heavy imports (torch,
transformers, llama_cpp) happen inside the commands so `outreach --help` stays fast.

Exit codes: 0 done; 1 a stage failed (the reason is printed and in the run's report.json);
2 bad settings/input; 3 another retraining run holds the lock.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from outreach.cli_support import ConfigOpt, load_cli_settings

console = Console(stderr=True)
TierOpt = Annotated[Optional[str], typer.Option(help="small | large | llm (default: "
                                                "retrain.tier).")]
release_app = typer.Typer(no_args_is_help=True, help="List, publish, promote and roll back "
                          "model releases (registry + Redis pointers + model.updates).")
EXIT_LOCK_HELD = 3


def retrain(
    config: ConfigOpt = None,
    tier: TierOpt = None,
    feedback: Annotated[Optional[list[Path]], typer.Option(help="FeedbackExample JSONL files "
                                                           "to add (repeatable).")] = None,
    every: Annotated[Optional[str], typer.Option(help="Repeat: 24h, 30m, 1d... (a failed run "
                                                 "is reported and the schedule goes on).")] = None,
) -> None:
    """One retraining cycle: feedback since the last release -> dataset -> LoRA fine-tune ->
    merge -> F16 GGUF -> quantize -> gate -> release as challenger (registry, Redis pointer,
    model.updates). A Redis lock keeps two runs from overlapping; each run writes
    <retrain.runs_dir>/<run_id>/report.json and exits non-zero with the reason on failure."""
    from releases.retrain import Run, parse_every

    settings = load_cli_settings(config, **{"retrain.tier": tier})
    interval = parse_every(every) if every else None
    stop = threading.Event()
    while True:
        # markup=False: "[train]" is a stage name, not a rich style tag.
        report = Run(settings, feedback_files=feedback,
                     say=lambda line: console.print(line, markup=False, highlight=False)).execute()
        if report.ok:
            release = report.release or {}
            console.print(f"[green]released[/] {release.get('release_id')} as challenger of "
                          f"tier {report.tier} ({release.get('uri')})")
        else:
            console.print(f"[red]retrain failed[/] at {report.failed_stage}: {report.error}")
        console.print(f"report: {settings.retrain.runs_dir / report.run_id / 'report.json'}")
        if interval is None:
            raise typer.Exit(0 if report.ok else EXIT_LOCK_HELD if report.lock_held else 1)
        next_at = time.time() + interval
        console.print(f"next run at {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(next_at))}")
        if stop.wait(interval):
            return


@release_app.command("list")
def list_releases(config: ConfigOpt = None) -> None:
    """Every release in the registry, and the champion/challenger pointer of each tier."""
    from releases.registry import Registry

    registry = Registry(load_cli_settings(config))
    typer.echo(json.dumps({"releases": registry.list_releases(),
                           "current": {t: registry.current(t) for t in ("small", "large")}},
                          indent=2, default=str))


@release_app.command("publish")
def publish(gguf: Annotated[Path, typer.Argument(help="A quantized GGUF to release.")],
            model_version: Annotated[str, typer.Option(help="Version recorded on drafts.")],
            tier: TierOpt = None,
            role: Annotated[str, typer.Option(help="CHALLENGER | CHAMPION")] = "CHALLENGER",
            quant_type: Annotated[str, typer.Option(help="Recorded in the manifest.")] = "Q4_K_M",
            config: ConfigOpt = None) -> None:
    """Release a GGUF by hand (no gate): registry blob + manifest, pointer, model.updates."""
    from releases.registry import Registry
    from training.train import git_commit

    settings = load_cli_settings(config, **{"retrain.tier": tier})
    manifest = {"source": str(gguf), "quant_type": quant_type, "gate": None,
                "git_commit": git_commit(), "published_by": "outreach release publish"}
    record = Registry(settings).publish(gguf, manifest, tier=settings.retrain.tier,
                                        role=role.upper(), model_id=gguf.name,
                                        model_version=model_version, gate_report=None)
    typer.echo(json.dumps(record, indent=2, default=str))


@release_app.command("promote")
def promote(tier: TierOpt = None, config: ConfigOpt = None) -> None:
    """Make the tier's challenger its champion (workers switch between requests)."""
    from releases.registry import Registry

    settings = load_cli_settings(config, **{"retrain.tier": tier})
    typer.echo(json.dumps(Registry(settings).promote(settings.retrain.tier), indent=2, default=str))


@release_app.command("rollback")
def rollback(tier: TierOpt = None, config: ConfigOpt = None) -> None:
    """Put the tier's previous champion back (announced as ROLLBACK)."""
    from releases.registry import Registry

    settings = load_cli_settings(config, **{"retrain.tier": tier})
    typer.echo(json.dumps(Registry(settings).rollback(settings.retrain.tier), indent=2,
                          default=str))


def register(app: typer.Typer) -> None:
    app.command("retrain")(retrain)
    app.add_typer(release_app, name="release")
