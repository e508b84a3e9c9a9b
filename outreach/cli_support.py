"""What every command line of the project shares: the --config option, settings loading and the
logging set-up. The `outreach` CLI (apps/cli.py), the stage command groups (training/cli.py,
quantize/cli.py) and ``python -m workers`` all build their Settings here, once, in main()."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from outreach.errors import ConfigError
from outreach.settings import DEFAULT_CONFIG_FILE, Settings, load_settings

ConfigOpt = Annotated[Optional[Path], typer.Option("--config", "-c", help="Settings YAML file.")]
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(level: str | int) -> None:
    """One format for every process, so the demo's service logs read alike."""
    logging.basicConfig(level=level, format=LOG_FORMAT)


def settings_file(config: Path | None) -> Path | None:
    """The settings file a command reads: --config, else ./outreach.yaml when it exists."""
    if config is not None:
        return config
    return DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.is_file() else None


def load_cli_settings(config: Path | None, **overrides: Any) -> Settings:
    """Settings for one command (file + environment + non-None flag overrides), logging set up.

    Without a settings file the command says so in one line: silently running on defaults
    (the untuned base model, no SMTP host) is the mistake an operator notices last.
    """
    settings = load_settings(config, **overrides)
    setup_logging(settings.log_level)
    if settings_file(config) is None:
        typer.echo(f"note: no settings file ({DEFAULT_CONFIG_FILE} or --config): defaults and "
                   "OUTREACH_* environment variables only", err=True)
    return settings


# Settings whose values are secrets, by name; URLs may carry a password as user info too.
_SECRET_NAME = re.compile(r"(password|secret|token|api_key|apikey|credential)", re.IGNORECASE)
_URL_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<userinfo>[^/@\s]+)@",
                           re.IGNORECASE)
MASK = "***"


def masked(data: Any, key: str = "") -> Any:
    """``data`` (a settings dump) with secret values replaced by ``***``."""
    if isinstance(data, dict):
        return {k: masked(v, k) for k, v in data.items()}
    if isinstance(data, list):
        return [masked(item, key) for item in data]
    if data not in (None, "") and _SECRET_NAME.search(key):
        return MASK
    if isinstance(data, str):
        return _URL_USERINFO.sub(lambda m: f"{m['scheme']}{MASK}@", data)
    return data


def require_positive(**counts: int | None) -> None:
    """Refuse counts of zero or less in one line (ConfigError) instead of running on them."""
    for name, value in counts.items():
        if value is not None and value <= 0:
            raise ConfigError(f"--{name.replace('_', '-')} must be at least 1 (got {value})")
