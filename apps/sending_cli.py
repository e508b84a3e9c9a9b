"""Operator commands of the sending engine: `outreach sending status|pause|resume` and the
14-day simulation, `outreach sendsim` (docs/sending.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from outreach.cli_support import ConfigOpt, load_cli_settings
from outreach.errors import ConfigError

sending_app = typer.Typer(no_args_is_help=True, help="The sending engine's mailboxes and "
                          "campaign pauses: status, pause, resume.")
MailboxOpt = Annotated[Optional[str], typer.Option("--mailbox", help="A mailbox address.")]
CampaignOpt = Annotated[Optional[str], typer.Option("--campaign", help="A campaign id.")]


def _engine(config: Optional[Path]):  # noqa: ANN202 - the engine type stays a lazy import
    from sending.engine import Engine, SmtpTransports
    from sequences.clock import Clock

    settings = load_cli_settings(config)
    return Engine(settings, Clock.from_settings(settings.sequences), SmtpTransports())


def _announce(config: Optional[Path], event: dict | None, what: str) -> None:
    if event is None:
        typer.echo(f"{what}: nothing to do (it was not in that state)")
        return
    from outreach.kafka import make_producer, produce_sync
    from outreach.topics import OPERATIONS
    from schemas.ops import ops_codec

    settings = load_cli_settings(config)
    codec = ops_codec(settings.kafka.schema_registry_url)
    produce_sync(make_producer(settings), OPERATIONS,
                 codec.encode("OperationsEvent", event, topic=OPERATIONS),  # type: ignore
                 key=event["name"].encode())
    typer.echo(f"{what}: done ({event['kind']} on {OPERATIONS})")


@sending_app.command()
def status(config: ConfigOpt = None) -> None:
    """Paused mailboxes and campaigns (with why) and the drafts waiting in each queue."""
    from sending.status import paused

    typer.echo(json.dumps(paused(load_cli_settings(config)), indent=2))


@sending_app.command()
def pause(mailbox: MailboxOpt = None, reason: Annotated[str, typer.Option(
        help="Why, for the banner and the operations topic.")] = "paused by an operator",
          config: ConfigOpt = None) -> None:
    """Pause a mailbox now: its queue moves to the rest of its pool on the next tick."""
    if not mailbox:
        raise ConfigError("name the mailbox: --mailbox ADDRESS")
    engine = _engine(config)
    try:
        _announce(config, engine.pause_mailbox(mailbox, reason), f"pause {mailbox}")
    finally:
        engine.close()


@sending_app.command()
def resume(mailbox: MailboxOpt = None, campaign: CampaignOpt = None,
           config: ConfigOpt = None) -> None:
    """Resume a paused mailbox or campaign; its rolling bounce/complaint window starts afresh."""
    if bool(mailbox) == bool(campaign):
        raise ConfigError("name one: --mailbox ADDRESS or --campaign ID")
    engine = _engine(config)
    try:
        event = (engine.resume_mailbox(mailbox) if mailbox
                 else engine.resume_campaign(campaign or ""))
        _announce(config, event, f"resume {mailbox or campaign}")
    finally:
        engine.close()


def register(app: typer.Typer) -> None:
    app.add_typer(sending_app, name="sending")

    @app.command()
    def sendsim(seed: Annotated[int, typer.Option(help="The world's seed.")] = 7,
                out: Annotated[Path, typer.Option(help="Folder for figures.json and "
                                                  "sends-per-day.svg.")] = Path("sendsim-out")
                ) -> None:
        """14 virtual days of the sending engine on a private Redis and SMTP sinks: 5
        mailboxes, 3 time zones with holidays, 2,000 leads in 3-step sequences, a failing
        mailbox and a bounce wave; prints the figures against their targets."""
        from apps.send_simulation import run
        from apps.send_simulation_report import svg_plot

        result = run(seed=seed, out=out)
        (out / "sends-per-day.svg").write_text(svg_plot(
            result["sends_per_day"], "Sends per day per mailbox (14 virtual days)"))
        shown = {k: v for k, v in result.items() if k not in ("sends_per_day", "caps_per_day")}
        typer.echo(json.dumps(shown, indent=2, default=str))
