"""`outreach quantize` is one sub-command per job: convert, trim, fold, report."""

from __future__ import annotations

from typer.testing import CliRunner

from apps.cli import app


def test_quantize_lists_one_command_per_job():
    result = CliRunner().invoke(app, ["quantize", "--help"])
    assert result.exit_code == 0, result.output
    for command in ("convert", "trim", "fold", "report"):
        assert command in result.output
    assert "--trim-vocab-report" not in result.output  # no mode flags on the group


def test_trim_takes_exactly_one_of_vocab_and_like(tmp_path):
    runner = CliRunner()
    neither = runner.invoke(app, ["quantize", "trim", "--out", str(tmp_path)])
    both = runner.invoke(app, ["quantize", "trim", "--vocab", "16000", "--like",
                               str(tmp_path / "m.json"), "--out", str(tmp_path)])
    for result in (neither, both):
        assert result.exit_code == 2
        assert "one of --vocab N or --like MANIFEST" in result.output
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_fold_without_an_adapter_in_the_settings_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("OUTREACH_MODEL__LORA_PATH", "null")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["quantize", "fold", str(tmp_path / "x.gguf"),
                                      "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "no model.lora_path" in result.output
