"""`outreach campaign add|list|show|retire`: operators manage campaigns on the `campaigns` topic.

``register(app)`` adds the group to the main typer app (apps/cli.py calls it). Exit codes:
0 done, 2 invalid brief or unknown campaign (the message names the file and every bad field).
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from outreach.cli_support import ConfigOpt, load_cli_settings
from outreach.errors import CampaignError

campaign_app = typer.Typer(no_args_is_help=True, help=(
    "Campaigns (product, sender, facts, calls to action) as data on the compacted `campaigns` "
    "topic: add a YAML brief, list, show, retire. No retraining: the miniature writes for any "
    "campaign whose facts are in its prompt."))
console = Console(stderr=True)


def _fail(exc: CampaignError) -> typer.Exit:
    console.print(f"[red]error:[/] {exc}")
    return typer.Exit(2)


def _when(millis: int) -> str:
    return datetime.fromtimestamp(millis / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


@campaign_app.command("add")
def add(brief: Annotated[Path, typer.Argument(help="Campaign brief YAML.")],
        config: ConfigOpt = None) -> None:
    """Validate a brief and publish it as the next version of its campaign id."""
    from apps.campaigns import add_campaign

    settings = load_cli_settings(config, quiet=True)
    try:
        campaign = add_campaign(settings, brief)
    except CampaignError as exc:
        raise _fail(exc) from exc
    typer.echo(f"published {campaign.campaign_id} v{campaign.version} ({campaign.product}, "
               f"{len(campaign.facts)} facts)")


@campaign_app.command("list")
def list_(config: ConfigOpt = None) -> None:
    """Every campaign's newest version, read from the beginning of the topic."""
    from apps.campaigns import read_campaigns

    table = Table("campaign", "version", "status", "product", "sender", "facts", "updated")
    for cid, record in sorted(read_campaigns(load_cli_settings(config, quiet=True)).items()):
        sender = record["sender"]
        table.add_row(cid, str(record["version"]), record["status"], record["product"],
                      f"{sender['name']}, {sender['company']}",
                      str(len(record["proof_points"]) + len(record["case_studies"])),
                      _when(record["updated_at"]))
    # Piped output (scripts, CI) gets a wide table instead of rich's 80-column default.
    Console(width=None if sys.stdout.isatty() else 160).print(table)


@campaign_app.command("show")
def show(campaign_id: Annotated[str, typer.Argument(help="Campaign id.")],
         config: ConfigOpt = None) -> None:
    """The newest version of one campaign as JSON."""
    from apps.campaigns import read_campaigns

    record = read_campaigns(load_cli_settings(config, quiet=True)).get(campaign_id)
    if record is None:
        raise _fail(CampaignError(f"no campaign {campaign_id!r}", code="unknown_campaign"))
    typer.echo(json.dumps(record, indent=2, ensure_ascii=False))


@campaign_app.command("retire")
def retire(campaign: Annotated[str, typer.Argument(help="Campaign id, or its brief YAML.")],
           config: ConfigOpt = None) -> None:
    """Publish a retired version: intake dead-letters new leads of it (retired_campaign)."""
    from apps.campaigns import retire_campaign
    from schemas.campaign import load_campaign

    settings = load_cli_settings(config, quiet=True)
    try:
        campaign_id = load_campaign(campaign).campaign_id if Path(campaign).is_file() \
            else campaign
        retired = retire_campaign(settings, campaign_id)
    except CampaignError as exc:
        raise _fail(exc) from exc
    typer.echo(f"retired {retired.campaign_id} (v{retired.version})")


def register(app: typer.Typer) -> None:
    """Add the `campaign` command group to ``app``."""
    app.add_typer(campaign_app, name="campaign")
