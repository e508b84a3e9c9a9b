"""Operator commands that change who is mailed: `outreach suppress`.

Whole-domain suppression is deliberately only here, behind an operator's command: an
engagement event (webhook, ESP) can suppress only the address of the draft it names.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated

import typer

from outreach.cli_support import ConfigOpt, load_cli_settings
from outreach.errors import ConfigError

_ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]{2,}$")
_DOMAIN = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,}$")


def register(app: typer.Typer) -> None:
    @app.command()
    def suppress(targets: Annotated[list[str], typer.Argument(help="Addresses (or domains "
                                                              "with --domain).")],
                 domain: Annotated[bool, typer.Option(
                     "--domain", help="Suppress whole domains: every address at them.")] = False,
                 config: ConfigOpt = None) -> None:
        """Stop mailing addresses (or, with --domain, whole domains), checked at intake and
        again at send time."""
        from outreach.store import SyncStore

        items = [t.strip().lower() for t in targets]
        pattern, kind = (_DOMAIN, "domain") if domain else (_ADDRESS, "address")
        bad = [t for t in items if not pattern.match(t)]
        if bad:
            hint = "" if domain else " (use --domain to suppress a whole domain)"
            article = "an" if kind == "address" else "a"
            raise ConfigError(f"not {article} {kind}: {', '.join(bad)}{hint}")
        store = SyncStore(load_cli_settings(config))
        try:
            store.suppress(*items)
        finally:
            store.close()
        typer.echo(f"suppressed {len(items)} {kind}{'s' if len(items) != 1 else ''}")

    @app.command()
    def chaos(config: ConfigOpt = None,
              leads: Annotated[int, typer.Option(help="Valid leads (and drafts) under faults.")] = 1000,
              fuzz: Annotated[int, typer.Option(help="Fuzzed records on leads + leads.json.")] = 10_000,
              kills: Annotated[int, typer.Option(help="SIGKILLs of intake and of the sender.")] = 2,
              redis_down: Annotated[float, typer.Option(help="Seconds Redis stays down.")] = 10.0,
              out: Annotated[Path, typer.Option(help="Folder for the stack, logs, mail and "
                                                "report.json.")] = Path("chaos-out"),
              seed: Annotated[int, typer.Option()] = 7,
              hostile: Annotated[bool, typer.Option(
                  help="Also the hostile set (apps/hostile_set.py, 286 leads, every field) "
                  "through intake and a real generation worker (the served model, SIGKILLed "
                  "once), judging drafts for remnants; slow: tens of minutes on 2 busy cores.")
              ] = False,
              hostile_timeout: Annotated[float | None, typer.Option(
                  help="Seconds the hostile phase waits for outcomes (default 10 a lead); "
                  "leads still without one then fail the run.")] = None,
              rebalance: Annotated[bool, typer.Option(
                  help="Also two generation workers in one group, a third joining and one "
                  "SIGKILLed mid-run (default model, 18 requests): 0 lost, 0 duplicates.")
              ] = False) -> None:
        """Fault and abuse suite on a private embedded stack: fuzzed records, SIGKILLs of intake
        and the sender, Redis stopped and restarted; prints the figures (README: Reliability)."""
        from apps.chaos import report_dict, run_chaos
        from apps.chaos_hostile import failed as hostile_failed
        from apps.chaos_rebalance import failed as rebalance_failed
        from outreach.cli_support import require_positive

        require_positive(leads=leads, fuzz=fuzz)
        settings = load_cli_settings(config)
        report = run_chaos(settings, out, leads=leads, fuzz=fuzz, kills=kills,
                           redis_down_s=redis_down, seed=seed, say=typer.echo,
                           hostile=hostile, rebalance=rebalance,
                           hostile_timeout_s=hostile_timeout)
        (out / "report.json").write_text(json.dumps(report_dict(report), indent=2))
        typer.echo(report.markdown())
        failed = report.intake_lost or report.sender_lost or report.intake_crashes or (
            report.fuzz_dead_lettered < report.fuzz_records) or report.fuzz_without_reason or (
            hostile_failed(report.hostile)) or (
            rebalance_failed(report.rebalance))
        raise typer.Exit(1 if failed else 0)
