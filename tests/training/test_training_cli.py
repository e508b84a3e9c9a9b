"""The training commands wired into a typer app: teach -> review queue -> dataset."""

from __future__ import annotations

import json

import typer
from typer.testing import CliRunner

from training.cli import register
from training.review_store import ReviewStore


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def test_teach_then_dataset(tmp_path):
    app, runner = _app(), CliRunner()
    examples, db, out = tmp_path / "ex.jsonl", tmp_path / "review.sqlite", tmp_path / "ds"
    result = runner.invoke(app, ["teach", "--count", "30", "--seed", "2", "--auto-approve",
                                 "--out", str(examples), "--review-db", str(db)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in examples.read_text().splitlines()]
    assert len(rows) == 30 and all(r["approved_by"] == "rubric-auto" for r in rows)
    with ReviewStore(db) as store:
        assert store.counts()["total"] == 30
    result = runner.invoke(app, ["dataset", "--examples", str(examples), "--out", str(out)])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert sum(manifest["counts"][s] for s in ("train", "validation", "test")) == 30


def test_every_command_has_help():
    runner = CliRunner()
    for command in ("teach", "review", "dataset", "train", "eval"):
        result = runner.invoke(_app(), [command, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output, command
