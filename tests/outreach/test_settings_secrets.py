"""Secrets are SecretStr: the config printer masks them by type, never by a list of names."""

from __future__ import annotations

import json
from typing import get_origin

import yaml
from pydantic import BaseModel, SecretStr
from typer.testing import CliRunner

from outreach.cli_support import MASK, masked
from outreach.settings import Settings, load_settings, plain_data


def secret_paths(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Dotted names of every SecretStr setting (or optional one), found from the field types;
    lists, tuples and maps of secrets (key rotation, operator tokens, mailbox passwords) are
    checked on their own."""
    found = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if get_origin(annotation) in (list, dict, tuple):
            continue
        args = getattr(annotation, "__args__", ()) or (annotation,)
        if SecretStr in args:
            found.append(prefix + name)
        for arg in args:
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                found += secret_paths(arg, f"{prefix}{name}.")
    return found


def with_every_secret(monkeypatch) -> dict[str, str]:
    """Set each secret through the environment to a value of its own; returns path -> value."""
    values = {}
    for index, path in enumerate(secret_paths(Settings)):
        values[path] = f"s3cr3t-{index}-value"
        monkeypatch.setenv("OUTREACH_" + path.replace(".", "__").upper(), values[path])
    return values


def test_the_secrets_are_typed_as_secrets():
    paths = set(secret_paths(Settings))
    assert {"sender.smtp_password", "sender.unsubscribe_secret", "llm.api_key",
            "training.teacher.api_key", "training.review.token", "dashboard.webhook_token",
            "dashboard.webhook_secret", "feedback.pii_salt"} <= paths


def test_secrets_never_print_and_are_read_explicitly(monkeypatch):
    values = with_every_secret(monkeypatch)
    settings = load_settings(config_file=None)
    assert settings.sender.smtp_password.get_secret_value() == values["sender.smtp_password"]
    assert settings.feedback.pii_salt.get_secret_value() == values["feedback.pii_salt"]
    for text in (repr(settings), str(settings), settings.model_dump_json()):
        assert not any(value in text for value in values.values())


def test_the_printer_masks_by_type_and_keeps_other_values(monkeypatch):
    for path in secret_paths(Settings):
        monkeypatch.delenv("OUTREACH_" + path.replace(".", "__").upper(), raising=False)
    unset = masked(Settings())  # an unset secret prints as unset, not as a mask
    assert unset["sender"]["smtp_password"] is None and unset["llm"]["api_key"] is None
    values = with_every_secret(monkeypatch)
    monkeypatch.setenv("REDIS_URL", "redis://ops:pa55word@cache.internal:6379/0")
    data = masked(load_settings(config_file=None))
    text = json.dumps(data)
    assert not any(value in text for value in values.values()) and "pa55word" not in text
    for path in values:
        node = data
        for part in path.split("."):
            node = node[part]
        assert node == MASK, path
    # A salt has no "secret" in its name and a token count is no secret: the type decides.
    assert data["feedback"]["pii_salt"] == MASK
    assert data["model"]["max_tokens"] == load_settings(config_file=None).model.max_tokens
    assert data["redis_url"] == f"redis://{MASK}@cache.internal:6379/0"
    assert data["sender"]["smtp_password"] == MASK


def test_outreach_config_prints_no_secret(monkeypatch, tmp_path):
    from apps.cli import app

    values = with_every_secret(monkeypatch)
    monkeypatch.chdir(tmp_path)  # no ./outreach.yaml: defaults + environment
    result = CliRunner().invoke(app, ["config"])
    assert result.exit_code == 0, result.output
    assert not any(value in result.output for value in values.values())
    assert json.loads(result.stdout)["dashboard"]["webhook_secret"] == MASK


def test_a_child_process_settings_file_carries_the_real_secrets(monkeypatch, tmp_path):
    """apps/pipeline.Services hands children plain_data(settings): a JSON dump alone would
    write every secret as '**********' and the child would sign with that."""
    values = with_every_secret(monkeypatch)
    settings = load_settings(config_file=None)
    for path in values:
        monkeypatch.delenv("OUTREACH_" + path.replace(".", "__").upper())
    file = tmp_path / "child.yaml"
    file.write_text(yaml.safe_dump(plain_data(settings, exclude={"redis_url"})))
    child = load_settings(file)
    assert child.dashboard.webhook_secret.get_secret_value() == values["dashboard.webhook_secret"]
    assert child.sender.unsubscribe_secret.get_secret_value() == \
        values["sender.unsubscribe_secret"]
    assert child.model_dump(exclude={"redis_url"}) == settings.model_dump(exclude={"redis_url"})


def test_lists_and_maps_of_secrets_are_masked_too():
    settings = load_settings(config_file=None).model_copy(deep=True)
    settings.sender.unsubscribe_secrets.append(SecretStr("rotated-key-value"))
    settings.dashboard.operators["ana"] = SecretStr("ana-token-value")
    shown = json.dumps(masked(settings))
    assert "rotated-key-value" not in shown and "ana-token-value" not in shown
    data = masked(settings)
    assert data["sender"]["unsubscribe_secrets"] == [MASK]
    assert data["dashboard"]["operators"] == {"ana": MASK}


def test_a_mailbox_password_in_a_pool_is_masked():
    """sending.mailboxes is a tuple of mailboxes, each with its own SMTP password."""
    settings = load_settings(config_file=None, **{"sending.mailboxes": [
        {"address": "a@send.example", "smtp_host": "relay.example",
         "smtp_password": "pw-of-mailbox-a"}]})
    assert isinstance(settings.sending.mailboxes[0].smtp_password, SecretStr)
    shown = json.dumps(masked(settings))
    assert "pw-of-mailbox-a" not in shown and MASK in shown
