"""The training commands of the `outreach` CLI: teach, review, dataset, train, eval.

``register(app)`` adds them to the main typer app (apps/cli.py calls it).
Heavy imports (torch, transformers, llama_cpp) happen inside the commands, so `outreach --help`
stays fast and the streaming path never imports them.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, \
    TimeRemainingColumn

from outreach.cli_support import ConfigOpt, load_cli_settings, require_positive
from outreach.errors import ConfigError
from outreach.settings import Settings

console = Console(stderr=True)



def _progress() -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                    console=console)


def teach(
    config: ConfigOpt = None,
    brief: Annotated[Optional[Path], typer.Option(help="Campaign brief YAML (default: "
                                                  "settings training.brief_path).")] = None,
    leads: Annotated[Optional[Path], typer.Option(help="CRM export, .csv or .jsonl; default: "
                                                  "the project's lead generator.")] = None,
    count: Annotated[int, typer.Option(help="Generated leads (without --leads).")] = 200,
    seed: Annotated[int, typer.Option(help="Generator and teacher seed.")] = 0,
    teacher: Annotated[str, typer.Option(help="offline (templates, no network) | openai "
                                         "(settings training.teacher.*).")] = "offline",
    variants: Annotated[int, typer.Option(help="Emails per lead.")] = 1,
    out: Annotated[Optional[Path], typer.Option(help="Examples JSONL to write (default: "
                                                "<training.data_dir>/examples.jsonl).")] = None,
    auto_approve: Annotated[bool, typer.Option(help="Approve flag-free examples scoring >= "
                                               "--min-overall as 'rubric-auto' (no human "
                                               "review).")] = False,
    min_overall: Annotated[float, typer.Option(help="Rubric threshold for --auto-approve.")] = 0.95,
    review_db: Annotated[Optional[Path], typer.Option(help="Also queue the examples for "
                                                      "`outreach review` in this SQLite file.")] = None,
) -> None:
    """Write synthetic (lead, email) examples with a teacher, scored by the rubric.

    The offline teacher is template based and grounded only in the lead and the brief; every
    example it writes is labelled teacher=offline-templates-v1. Bad rows in --leads are listed
    with their line numbers and nothing is written.
    """
    from training import leads as lead_io
    from training import teach as teaching
    from training.brief import load_brief

    require_positive(count=count, variants=variants)
    settings = load_cli_settings(config)
    the_brief = load_brief(brief or settings.training.brief_path)
    lead_rows = lead_io.load_file(leads, the_brief.campaign_id) if leads else \
        lead_io.generated(count, seed, the_brief.campaign_id)
    with _progress() as bar:
        task = bar.add_task(f"teacher: {teacher}", total=len(lead_rows) * variants, info="")
        if teacher == "offline":
            from training import teacher_offline

            examples = teacher_offline.teach(lead_rows, the_brief, seed=seed, variants=variants)
            bar.update(task, completed=len(examples))
        elif teacher == "openai":
            from training import teacher_openai

            examples, usage = teacher_openai.teach(
                lead_rows, the_brief, settings.training.teacher, variants=variants,
                on_done=lambda: bar.advance(task))
            console.print(f"teacher usage: {json.dumps(usage)}")
        else:
            raise typer.BadParameter("--teacher must be offline or openai")
    teaching.score_examples(examples, the_brief)
    approved = teaching.auto_approve(examples, min_overall) if auto_approve else 0
    out = out or settings.training.data_dir / "examples.jsonl"
    teaching.save(examples, out)
    if review_db:
        from training.review_store import ReviewStore

        with ReviewStore(review_db) as store:
            store.add(examples)
    console.print(f"wrote {len(examples)} examples to {out} ({approved} auto-approved)")


def dataset(
    config: ConfigOpt = None,
    examples: Annotated[Optional[Path], typer.Option(help="Examples JSONL from `teach`.")] = None,
    review_db: Annotated[Optional[Path], typer.Option(help="Take examples (and decisions) "
                                                      "from a review database.")] = None,
    feedback: Annotated[Optional[list[Path]], typer.Option(help="FeedbackExample JSONL "
                                                           "(repeatable).")] = None,
    out: Annotated[Optional[Path], typer.Option(help="Dataset directory (default: "
                                                "<training.data_dir>/dataset).")] = None,
    seed: Annotated[int, typer.Option(help="Split seed.")] = 0,
) -> None:
    """Build train/validation/test JSONL (split by lead) + preferences + manifest.

    Only approved examples enter; feedback rows need reward >= training.min_reward;
    near-duplicates are dropped.
    """
    from training import dataset as builder
    from training.records import read_examples

    settings = load_cli_settings(config)
    rows = read_examples(examples) if examples else []
    if review_db:
        from training.review_store import ReviewStore

        with ReviewStore(review_db) as store:
            rows += store.all()
    out = out or settings.training.data_dir / "dataset"
    manifest = builder.build(rows, out, feedback=feedback or [],
                             min_reward=settings.training.min_reward,
                             near_duplicate_threshold=settings.training.near_duplicate_threshold,
                             seed=seed, field_max_chars=settings.checks.field_max_chars)
    console.print_json(json.dumps({k: manifest[k] for k in ("counts", "filtering")}))


def train(
    config: ConfigOpt = None,
    recipe: Annotated[Optional[Path], typer.Option(help="Recipe YAML (default: settings "
                                                   "training.recipe_path).")] = None,
    data: Annotated[Optional[Path], typer.Option(help="Dataset directory from `dataset` "
                                                 "(default: <training.data_dir>/dataset).")] = None,
    out: Annotated[Path, typer.Option(help="Output model directory.")] = Path("training-runs/run"),
    method: Annotated[Optional[str], typer.Option(help="Override the recipe: lora | full.")] = None,
    base: Annotated[Optional[str], typer.Option(help="Override the recipe's base: a GGUF file "
                                                "or a model directory.")] = None,
    max_steps: Annotated[Optional[int], typer.Option(help="Override the recipe's max_steps.")] = None,
    resume: Annotated[bool, typer.Option(help="Continue from OUT/checkpoint.")] = False,
) -> None:
    """Fine-tune a base model (LoRA by default, or full) on email tokens only.

    Writes OUT/adapter (peft) and OUT/adapter.gguf (llama.cpp LoRA adapter), or OUT/model for
    full fine-tuning, plus OUT/manifest.json (base sha256, recipe, dataset hash, metrics, git
    commit). Checkpoints every save_every steps; --resume continues the same run.
    """
    from training import train as trainer
    from training.recipe import load_recipe

    settings = load_cli_settings(config)
    the_recipe = load_recipe(recipe or settings.training.recipe_path)
    data = data or settings.training.data_dir / "dataset"
    updates = {k: v for k, v in {"method": method, "max_steps": max_steps, "base": base}.items() if v}
    the_recipe = the_recipe.model_copy(update=updates)
    with _progress() as bar:
        task = bar.add_task(f"train {the_recipe.method}", total=None, info="loading base...")

        def on_step(step: int, total: int, loss: float) -> None:
            bar.update(task, completed=step, total=total, info=f"loss {loss:.3f}")
            if not console.is_terminal:  # a log file gets one line per step instead of a bar
                console.print(f"step {step}/{total} loss {loss:.4f}")

        manifest = trainer.train(the_recipe, data, out, resume=resume, progress=on_step)
    console.print_json(json.dumps(manifest["metrics"]))
    console.print(f"model written to {out}")


def review(
    config: ConfigOpt = None,
    db: Annotated[Optional[Path], typer.Option(help="Review SQLite file (default: settings "
                                               "training.review.db_path).")] = None,
    add: Annotated[Optional[Path], typer.Option(help="Queue the examples of this JSONL "
                                                "first.")] = None,
    host: Annotated[Optional[str], typer.Option(help="Bind address.")] = None,
    port: Annotated[Optional[int], typer.Option(help="Port.")] = None,
) -> None:
    """Serve the human review queue: approve (a), edit (e), reject with a reason (r).

    Shows the rubric scores and flags beside each example, progress, and filters by status,
    teacher and flags. Decisions persist in SQLite. Protected by a token (settings
    training.review.token, or a random one printed here): open the printed URL once.
    """
    from training.records import read_examples
    from training.review_app import new_token, serve
    from training.review_store import ReviewStore

    cfg = load_cli_settings(config).training.review
    db_path = db or cfg.db_path
    if db is not None and not Path(db).is_file() and not add:
        # A typo in --db would otherwise serve a new, empty queue and look like "all done".
        raise ConfigError(f"review database {db} does not exist (pass --add EXAMPLES.jsonl to "
                          "create it)")
    if add:
        with ReviewStore(db_path) as store:
            console.print(f"queued {store.add(read_examples(add))} new examples")
    token = cfg.token.get_secret_value() if cfg.token else new_token()
    host, port = host or cfg.host, port or cfg.port
    from outreach.web_auth import announce  # the link once, on a terminal, never into a log

    announce(f"http://{host}:{port}/" + ("" if cfg.token else f"?token={token}"))
    serve(db_path, host, port, token)


def eval(  # noqa: A001 - the command is called `eval`
    config: ConfigOpt = None,
    data: Annotated[Optional[Path], typer.Option(help="Dataset directory, its test.jsonl "
                                                 "(default: <training.data_dir>/dataset).")] = None,
    brief: Annotated[Optional[Path], typer.Option(help="Campaign brief YAML.")] = None,
    adapter: Annotated[Optional[list[Path]], typer.Option(help="GGUF LoRA adapter to score on "
                                                          "the base (repeatable).")] = None,
    hf_model: Annotated[Optional[list[Path]], typer.Option(help="A transformers model "
                                                           "directory, e.g. a full fine-tune "
                                                           "(repeatable).")] = None,
    saved: Annotated[Optional[list[str]], typer.Option(help="NAME=PATH: score emails generated "
                                                       "elsewhere (evaluate.generate_to_jsonl "
                                                       "/ hf_generate_batched), e.g. on a GPU "
                                                       "(repeatable).")] = None,
    base: Annotated[bool, typer.Option(help="Also score the untuned base (few-shot worker "
                                       "prompt and trained prompt).")] = True,
    limit: Annotated[Optional[int], typer.Option(help="Score only the first N test leads.")] = None,
    max_tokens: Annotated[int, typer.Option(help="Tokens per generated email.")] = 220,
    out: Annotated[Path, typer.Option(help="Report prefix: writes OUT.json and OUT.md.")] = Path(
        "training-runs/eval"),
) -> None:
    """Score base vs LoRA vs full fine-tune vs the teacher on the held-out test set.

    The rubric needs no LLM: personalization, grounding (names/numbers absent from lead and
    brief are flagged), structure, spam words, and embedding similarity to the teacher's
    email (all-MiniLM-L6-v2, offline). The base GGUF is settings model.gguf_path (default
    Gemma 3 270M); GGUF models run through the worker's engine and their cost per email comes
    from the CPU time they used.
    """
    from training import evaluate as ev
    from training.brief import load_brief
    from training.dataset import load_split

    settings = load_cli_settings(config)
    the_brief = load_brief(brief or settings.training.brief_path)
    rows = load_split(data or settings.training.data_dir / "dataset", "test")[:limit]
    systems: list[tuple[str, Any]] = [("teacher", lambda: ev.teacher_writer(rows))]
    if base:
        systems += [("base-fewshot", lambda: ev.gguf_writer(settings, None, "fewshot",
                                                             settings.model.max_tokens)),
                    ("base-trained-prompt", lambda: ev.gguf_writer(settings, None, "trained",
                                                                    max_tokens))]
    for path in adapter or []:
        systems.append((f"lora:{path.name}",
                        lambda p=path: ev.gguf_writer(settings, p, "trained", max_tokens)))
    for path in hf_model or []:
        systems.append((f"hf:{path.name}", lambda p=path: ev.hf_writer(p, settings, max_tokens)))
    for spec in saved or []:
        name, _, path = spec.partition("=")
        if not path:
            raise typer.BadParameter("--saved takes NAME=PATH")
        systems.append((name, lambda p=Path(path): ev.saved_writer(p)))
    results = []
    campaigns = ev.Campaigns(the_brief)  # each row's own campaign; the brief for older rows
    for row in rows:
        campaigns.of(row)  # every test campaign is "another campaign" to the rest
    with _progress() as bar:
        for name, make in systems:
            writer = make()
            # A saved system may cover a sample of the rows (a slow base model): score those.
            own_rows = [r for r in rows if getattr(writer, "covers", lambda _r: True)(r)]
            task = bar.add_task(name, total=len(own_rows), info="")
            results.append(ev.run_system(name, writer, own_rows, campaigns,
                                         settings.worker.usd_per_vcpu_hour,
                                         on_done=lambda t=task: bar.advance(t),
                                         checks=settings.checks))
    report = ev.table(results)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(results, indent=1) + "\n")
    out.with_suffix(".md").write_text(report + "\n")
    typer.echo(report)


def register(app: typer.Typer) -> None:
    """Add teach, review, dataset, train and eval to ``app``."""
    app.command()(teach)
    app.command()(review)
    app.command()(dataset)
    app.command()(train)
    app.command("eval")(eval)

