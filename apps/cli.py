"""The `outreach` command line. Each command builds Settings once and passes them down."""

from __future__ import annotations

import json
import logging
import signal
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from outreach.errors import OutreachError
from outreach.cli_support import (ConfigOpt, load_cli_settings, masked, require_positive,
                                  settings_file)
from outreach.preflight import check_services
from outreach.settings import Settings
from outreach.shutdown import stop_on_signals

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help=(
    "Miniature Outreach: personalized sales emails written by small fine-tuned GGUF models, "
    "streamed through Kafka.\n\nSettings come from ./outreach.yaml (or --config), then "
    "OUTREACH_* / KAFKA_BOOTSTRAP_SERVERS / REDIS_URL environment variables, then flags."))
console = Console(stderr=True)


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


@app.command()
def up(config: ConfigOpt = None) -> None:
    """Start the embedded stack (Kafka-protocol broker + Redis, no Docker) until Ctrl-C.

    Creates every topic and prints the connection settings to export in other shells.
    KAFKA_BOOTSTRAP_SERVERS / REDIS_URL, when set, are used instead of starting anything.
    """
    from outreach.stack import embedded_stack

    settings = load_cli_settings(config)
    with stop_on_signals(what="stopping the stack") as stop, \
            embedded_stack(settings) as stack:
        typer.echo(f"export KAFKA_BOOTSTRAP_SERVERS={stack.bootstrap_servers}")
        typer.echo(f"export REDIS_URL={stack.redis_url}")
        console.print("[green]embedded stack up[/]; topics created. Ctrl-C stops it.")
        stop.wait()
    console.print("stopped.")


@app.command()
def stream(config: ConfigOpt = None,
           loglevel: Annotated[str, typer.Option(help="Faust log level.")] = "warning") -> None:
    """Run lead intake (faust-streaming): validate, de-duplicate, suppress, route to tiers."""
    from streams.app import run_stream

    settings = load_cli_settings(config)
    check_services(settings)  # one line, not a Faust traceback, when Kafka/Redis is down
    run_stream(settings, loglevel=loglevel)


@app.command()
def worker(config: ConfigOpt = None,
           tier: Annotated[Optional[str], typer.Option(help="small | large | llm")] = None,
           model: Annotated[Optional[Path], typer.Option(help="GGUF path (default: Gemma 3 "
                                                         "270M Q4_K_M).")] = None,
           n_gpu_layers: Annotated[Optional[int], typer.Option(help="Layers on the GPU.")] = None,
           metrics_port: Annotated[Optional[int], typer.Option(help="Prometheus port.")] = None,
           ) -> None:
    """Run a generation worker for one tier (llama-cpp-python; CPU, or GPU via --n-gpu-layers).
    Tier llm calls the OpenAI-compatible endpoint of settings llm.* instead of a local model."""
    from workers.run import run_tier

    settings = load_cli_settings(config, **{"worker.tier": tier, "model.gguf_path": model,
                                    "model.n_gpu_layers": n_gpu_layers,
                                    "worker.metrics_port": metrics_port})
    # Before the model loads (seconds to minutes): Redis only if configured (release following).
    check_services(settings, redis=bool(settings.redis_url))
    run_tier(settings)


@app.command()
def send(config: ConfigOpt = None,
         smtp_host: Annotated[Optional[str], typer.Option(help="SMTP server; unset = nothing "
                                                          "is sent.")] = None,
         smtp_port: Annotated[Optional[int], typer.Option()] = None,
         unpaced: Annotated[bool, typer.Option(help="Run the reference sender instead: every "
                                               "draft at once, one address, no caps.")] = False
         ) -> None:
    """Run the sending engine: email.drafts -> a pool of mailboxes (daily caps, gaps, ramp-up)
    -> SMTP, inside each recipient's business hours; bounce/complaint guardrails
    (docs/sending.md)."""
    settings = load_cli_settings(config, **{"sender.smtp_host": smtp_host,
                                            "sender.smtp_port": smtp_port})
    check_services(settings)
    if unpaced or settings.sending.unpaced:
        from mail.sender import run_sender

        run_sender(settings)
        return
    from sending.runner import run_engine

    run_engine(settings)


@app.command()
def sequences(config: ConfigOpt = None) -> None:
    """Run the sequence scheduler: follow-ups after business-day delays, stopped by a reply,
    unsubscribe, bounce or complaint; outcomes to crm.updates (docs/crm-write-back.md)."""
    from sequences.scheduler import run_scheduler

    settings = load_cli_settings(config)
    check_services(settings)
    run_scheduler(settings)


@app.command()
def demo(config: ConfigOpt = None,
         leads: Annotated[Optional[int], typer.Option(help="Valid sample leads to produce.")] = None,
         out: Annotated[Optional[Path], typer.Option(help="Folder for .eml files and logs.")] = None,
         seed: Annotated[Optional[int], typer.Option()] = None,
         model: Annotated[Optional[Path], typer.Option(help="GGUF path.")] = None,
         with_feedback: Annotated[bool, typer.Option("--feedback", help=(
             "Also run the engagement loop: SIMULATED opens/replies/unsubscribes, attribution, "
             "KPIs, A/B decisions, FeedbackExamples and the dashboard."))] = False,
         serve: Annotated[bool, typer.Option(help="Keep services and the dashboard running "
                                                  "after the summary, until Ctrl-C.")] = False,
         llm_url: Annotated[Optional[str], typer.Option(help=(
             "OpenAI-compatible base URL (e.g. https://api.openai.com/v1; key in "
             "OUTREACH_LLM__API_KEY) for the baseline-LLM arm of --feedback; default: a local "
             "llama_cpp.server stand-in on the untuned base with the few-shot prompt."))] = None,
         sequence: Annotated[bool, typer.Option("--sequence", help=(
             "Instead: a 3-step sequence on a virtual clock (business days in seconds) in "
             "which a simulated reply stops one lead's third email; the funnel per step."))] = False,
         ) -> None:
    """Run the whole pipeline on the embedded stack and print a summary.

    Starts broker + Redis + an SMTP sink, produces sample leads (with a few malformed,
    duplicate and suppressed ones on purpose), runs intake, workers and the sender, and writes
    one .eml file per draft. Nothing is really emailed.
    """
    from apps.demo import run_demo

    require_positive(leads=leads)
    settings = load_cli_settings(config, **{"demo.leads": leads, "demo.out_dir": out, "demo.seed": seed,
                                    "model.gguf_path": model})
    # SIGTERM (kill, a supervisor) and SIGINT (even where a background shell job ignores it)
    # both unwind through run_demo's finally blocks, which stop every child service; a default
    # SIGTERM would leave the workers, intake and broker running as orphans (seen).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    if sequence:
        from apps.sequence_demo import run_sequence_demo

        outcome = run_sequence_demo(settings, console=console, leads=leads or 4)
        raise typer.Exit(0 if outcome.steps_after_reply == 0 and not outcome.timed_out else 1)
    summary = run_demo(settings, console=console, feedback=with_feedback, serve=serve,
                       llm_url=llm_url)
    raise typer.Exit(0 if summary.ok else 1)


@app.command()
def feedback(config: ConfigOpt = None,
             loglevel: Annotated[str, typer.Option(help="Faust log level.")] = "warning") -> None:
    """Run the feedback loop (faust-streaming): attribute engagement to drafts, suppress
    bounces/unsubscribes/complaints, classify replies, KPIs, A/B decisions, FeedbackExamples."""
    from streams.feedback_app import feedback_main

    settings = load_cli_settings(config)
    check_services(settings)
    feedback_main(settings, loglevel=loglevel)


@app.command()
def leads(config: ConfigOpt = None,
          count: Annotated[int, typer.Option(help="Valid sample leads.")] = 10,
          seed: Annotated[int, typer.Option(help="Generator seed (new seed = new leads).")] = 1,
          campaign: Annotated[str, typer.Option(help=(
              "Campaign id on every lead; it must be on the campaigns topic (`outreach "
              "campaign list`), else intake dead-letters the leads."))] = "ledgerline-ap-q1",
          ) -> None:
    """Produce sample leads to `leads` (Avro) and `leads.json` (JSON), like two CRMs: a stand-in
    for a CRM against a running stack (KAFKA_BOOTSTRAP_SERVERS), e.g. the one `demo --serve`
    keeps up (its campaigns: ledgerline-ap-q1, patchwell-secops). No malformed, duplicate or
    suppressed records."""
    from outreach import leadgen
    from apps.campaigns import read_campaigns
    from apps.demo import produce_leads
    from schemas.codec import AvroCodec

    settings = load_cli_settings(config)
    known = read_campaigns(settings).get(campaign)
    if known is None or known["status"] != "active":
        console.print(f"[red]error:[/] campaign {campaign!r} is not active on the campaigns topic"
                      " (`outreach campaign add BRIEF.yaml`, `outreach campaign list`)")
        raise typer.Exit(2)
    batch = leadgen.generate(count, seed=seed, campaign=campaign, malformed=0, duplicates=0,
                             suppressed=0)
    sent = produce_leads(settings, batch, AvroCodec(registry_url=settings.kafka.schema_registry_url))
    console.print(f"produced {sent} leads (campaign {campaign}, seed {seed})")


@app.command()
def simulate(config: ConfigOpt = None) -> None:
    """Run the engagement SIMULATOR: reads drafts, emits simulated opens/replies/bounces/
    unsubscribes from a seeded audience model. Never use it on real traffic."""
    from engagement.simulator import simulate_main

    simulate_main(load_cli_settings(config))


@app.command()
def dashboard(config: ConfigOpt = None,
              host: Annotated[Optional[str], typer.Option()] = None,
              port: Annotated[Optional[int], typer.Option()] = None) -> None:
    """Serve the KPI / A-B dashboard, the engagement webhook and /metrics (FastAPI)."""
    from engagement.server import dashboard_main

    dashboard_main(load_cli_settings(config), host=host, port=port)


@app.command()
def bench(config: ConfigOpt = None,
          emails: Annotated[int, typer.Option(help="Emails per row.")] = 48,
          concurrency: Annotated[int, typer.Option(help="Sequences of the batched engine "
                                                   "and HTTP clients of the server row.")] = 16,
          baseline_emails: Annotated[Optional[int], typer.Option(
              help="Emails for the slower rows (a) and (b); default: all.")] = 16,
          rows: Annotated[str, typer.Option(help="Rows to run, e.g. abcd.")] = "abcd",
          rounds: Annotated[int, typer.Option(
              min=1, help="Measure every row this many times, interleaved, and pool them "
              "(steadier ratios on a machine whose speed drifts).")] = 1,
          out: Annotated[Path, typer.Option(help="Folder for bench.json and bench.md.")] = Path(
              "bench-out"),
          trim_vocab: Annotated[Optional[int], typer.Option(
              help="Also run (a) and (c) on the served model with its vocabulary trimmed to N "
              "merges (rows ta, tc; made once under OUT/trimmed).")] = None,
          trimmed: Annotated[Optional[Path], typer.Option(
              help="Rows ta, tc on this trimmed GGUF instead of --trim-vocab (one written by "
              "`outreach quantize fold` runs without the adapter); default: "
              "model.trimmed_path, when set.")] = None,
          fold: Annotated[bool, typer.Option(
              help="With --trim-vocab: fold the served adapter into the trimmed model, as the "
              "release step does (rows ta, tc then load no adapter).")] = False) -> None:
    """Benchmark, in one run on this machine: (a) sequential llama-cpp-python, (b) its bundled
    server, (c) our batched engine, (d) the whole Kafka pipeline, plus the decode ceiling,
    memory bandwidth, the intake rate, costs and the ratios c/a, c/b, d/c; with --trim-vocab
    also (ta)/(tc) on the trimmed model and tc/c, tc/a."""
    from apps.bench import run_full_bench, trimmed_model

    settings = load_cli_settings(config)
    if trim_vocab is not None and trimmed is None:
        trimmed = trimmed_model(settings, trim_vocab, out, console, fold=fold)
    trimmed = trimmed or settings.model.trimmed_path  # the served head cut, when there is one
    report = run_full_bench(settings, emails, concurrency, out, baseline_emails,
                            tuple(rows), console, rounds, trimmed=trimmed)
    typer.echo(report.to_markdown())


@app.command("config")
def show_config(config: ConfigOpt = None) -> None:
    """Print the effective settings (file + environment + defaults) as JSON."""
    settings = load_cli_settings(config)
    source = settings_file(config)
    typer.echo(f"# settings file: {source.resolve() if source else 'none (defaults + environment)'}"
               "; secrets shown as ***", err=True)
    typer.echo(json.dumps(masked(settings), indent=2))


def _register_stage_commands() -> None:
    """teach/review/dataset/train/eval live with the training stage (training/cli.py);
    quantize with the GGUF tools (quantize/cli.py); release/retrain with the release pipeline
    (releases/cli.py); campaign add|list|show|
    retire in apps/campaign_cli.py."""
    from apps.campaign_cli import register as register_campaigns
    from quantize.cli import register as register_quantize
    from releases.cli import register as register_release
    from training.cli import register

    register(app)
    register_quantize(app)
    register_release(app)
    register_campaigns(app)
    from apps.ops_cli import register as register_ops  # outreach suppress

    register_ops(app)
    from apps.approvals_cli import register as register_approvals  # outreach approvals

    register_approvals(app)
    from apps.sending_cli import register as register_sending  # outreach sending, sendsim

    register_sending(app)



@app.command()
def quality(
    config: ConfigOpt = None,
    leads: Annotated[int, typer.Option(help="Fresh Faker leads per held-out campaign and "
                                       "seed.")] = 20,
    seeds: Annotated[int, typer.Option(help="Sampling seeds (each draws its own leads).")] = 2,
    world_seed: Annotated[Optional[int], typer.Option(help="Pin the lead world (default: a "
                                                      "new one each run).")] = None,
    out: Annotated[Path, typer.Option(help="Folder for emails.jsonl, report.md/json and "
                                      "blind-read.md.")] = Path("training-runs/quality"),
) -> None:
    """The served miniature on the 12 held-out campaigns and fresh world leads, the worker's
    own way (screening, attempts, the one checks entry point): first-try pass, sent without a
    person, each rejection class, by script group and seed, and 30 sent emails to read blind."""
    from apps import quality_eval

    settings = load_cli_settings(config)
    report = quality_eval.run(settings, out, leads_per_campaign=leads, seeds=seeds,
                              world_seed=world_seed)
    typer.echo(quality_eval.markdown(report))


@app.command("followup-eval")
def followup_eval(
    config: ConfigOpt = None,
    leads: Annotated[int, typer.Option(help="Held-out leads, one campaign after another.")] = 12,
    world_seed: Annotated[Optional[int], typer.Option(help="Pin the lead world (default: a "
                                                      "new one each run).")] = None,
    out: Annotated[Path, typer.Option(help="Folder for emails.jsonl and report.md/json.")] =
        Path("training-runs/followup-eval"),
) -> None:
    """Steps 1, 2 and 3 of a sequence by the served miniature on held-out leads, through the
    follow-up prompt and the one checks entry point: pass rates per step, follow-up attempts
    that repeat the previous email or claim contact beyond the thread. Run it under
    `flock /tmp/model.lock` on a shared machine."""
    from apps import followup_eval as evaluation

    settings = load_cli_settings(config)
    report = evaluation.run(settings, out, leads=leads, world_seed=world_seed)
    typer.echo(evaluation.markdown(report))


_register_stage_commands()


def main() -> None:
    try:
        app()
    except OutreachError as exc:
        console.print(f"[red]error:[/] {exc}", soft_wrap=True)  # one line, however long
        raise SystemExit(2) from exc


if __name__ == "__main__":
    main()
