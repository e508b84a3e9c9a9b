"""What every command line of the project shares: the --config option, settings loading and the
logging set-up. The `outreach` CLI (apps/cli.py), the stage command groups (training/cli.py,
quantize/cli.py) and ``python -m workers`` all build their Settings here, once, in main()."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from pydantic import BaseModel, SecretStr

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


def load_cli_settings(config: Path | None, quiet: bool = False, **overrides: Any) -> Settings:
    """Settings for one command (file + environment + non-None flag overrides), logging set up.

    Without a settings file the command says so in one line: silently running on defaults
    (the untuned base model, no SMTP host) is the mistake an operator notices last.
    ``quiet`` (one-shot operator commands: campaign add/list/show/retire) logs warnings and
    errors only, so the answer is not buried under the libraries' INFO lines; a DEBUG
    ``log_level`` still shows everything.
    """
    settings = load_settings(config, **overrides)
    level = logging.getLevelName(settings.log_level) if isinstance(settings.log_level, str) \
        else settings.log_level
    setup_logging(max(level, logging.WARNING) if quiet and level > logging.DEBUG else level)
    if settings_file(config) is None:
        typer.echo(f"note: no settings file ({DEFAULT_CONFIG_FILE} or --config): defaults and "
                   "OUTREACH_* environment variables only", err=True)
    return settings


# URLs (redis_url, a registry or endpoint URL) may carry a password as user info.
_URL_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<userinfo>[^/@\s]+)@",
                           re.IGNORECASE)
MASK = "***"


def masked(settings: BaseModel) -> dict[str, Any]:
    """``settings`` as JSON-ready data with every SecretStr value shown as ``***`` (by type:
    a secret setting added later is masked without a list of names to keep up) and the user
    info of URLs masked."""
    return _masked(settings, settings.model_dump(mode="json"))


def _masked(value: Any, dumped: Any) -> Any:
    if isinstance(value, SecretStr):
        return MASK if value.get_secret_value() else dumped
    if isinstance(value, BaseModel):
        return {name: _masked(getattr(value, name, None), item) for name, item in dumped.items()}
    if isinstance(value, dict):
        return {key: _masked(value.get(key), item) for key, item in dumped.items()}
    if isinstance(value, (list, tuple)):
        return [_masked(v, item) for v, item in zip(value, dumped)]
    if isinstance(dumped, str):
        return _URL_USERINFO.sub(lambda m: f"{m['scheme']}{MASK}@", dumped)
    return dumped


def require_positive(**counts: int | None) -> None:
    """Refuse counts of zero or less in one line (ConfigError) instead of running on them."""
    for name, value in counts.items():
        if value is not None and value <= 0:
            raise ConfigError(f"--{name.replace('_', '-')} must be at least 1 (got {value})")
