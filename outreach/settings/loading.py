"""Building Settings: (flags) > environment > the YAML settings file > defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, SecretStr, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from outreach.errors import ConfigError
from outreach.settings.root import Settings

DEFAULT_CONFIG_FILE = Path("outreach.yaml")


class _YamlSource(PydanticBaseSettingsSource):
    """The settings file's mapping, read once by load_settings; ranks below the environment."""

    def __init__(self, settings_cls: type[BaseSettings], data: dict[str, Any]) -> None:
        super().__init__(settings_cls)
        self._data = data

    def get_field_value(self, field, field_name):  # pragma: no cover - unused by __call__
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return self._data


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read settings file {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"settings file {path} must hold a mapping")
    return data


def _from_sources(yaml_data: dict[str, Any]) -> Settings:
    """Settings from the environment over ``yaml_data`` over the defaults. The file's data
    travels in a per-call subclass, so nothing is stored on a shared class between calls."""

    class _WithFile(Settings):
        @classmethod
        def settings_customise_sources(cls, settings_cls, init_settings, env_settings,
                                       dotenv_settings, file_secret_settings):
            return (init_settings, env_settings, _YamlSource(settings_cls, yaml_data))

    # Re-validated as a plain Settings: the same values, the public class.
    return Settings.model_validate(_WithFile().model_dump())


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build Settings from (flags) > env > YAML file > defaults.

    ``config_file`` defaults to ./outreach.yaml when it exists. Overrides use dotted names for
    nested settings: ``load_settings(**{"model.gguf_path": p})``.
    """
    if config_file is None and DEFAULT_CONFIG_FILE.is_file():
        config_file = DEFAULT_CONFIG_FILE
    if config_file is not None and not Path(config_file).is_file():
        raise ConfigError(f"settings file {config_file} does not exist")
    yaml_data = _read_yaml(Path(config_file)) if config_file else {}
    try:
        settings = _from_sources(yaml_data)
        if overrides:
            settings = _apply_overrides(settings, overrides)
    except ValidationError as exc:
        raise ConfigError(f"invalid settings: {exc}") from exc
    return settings


def _apply_overrides(settings: Settings, overrides: dict[str, Any]) -> Settings:
    data = settings.model_dump()
    for dotted, value in overrides.items():
        if value is None:
            continue  # an unset CLI flag keeps the env/file/default value
        node = data
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node[part]
        node[leaf] = value
        if dotted == "model.gguf_path" and "model.trimmed_path" not in overrides:
            # A trim is cut from one model: a --model flag serves that model whole.
            data["model"]["trimmed_path"] = None
    return Settings.model_validate(data)


def plain_data(settings: BaseModel, **dump_args: Any) -> dict[str, Any]:
    """``settings`` as JSON-ready data with the secrets in clear: for a settings file handed
    to a child process (apps/pipeline.py), which must see the real values. A JSON dump alone
    writes every SecretStr as ``**********``."""
    return _reveal(settings.model_dump(**dump_args), settings.model_dump(mode="json", **dump_args))


def _reveal(python: Any, dumped: Any) -> Any:
    if isinstance(python, SecretStr):
        return python.get_secret_value()
    if isinstance(python, dict):
        return {key: _reveal(python.get(key), item) for key, item in dumped.items()}
    if isinstance(python, (list, tuple)):
        return [_reveal(value, item) for value, item in zip(python, dumped)]
    return dumped
