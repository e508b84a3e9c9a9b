"""`outreach campaign add|list|show|retire` against the embedded broker (the session's stack)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from apps.cli import app

pytestmark = pytest.mark.integration

BRIEF = """\
campaign_id: {campaign_id}
product: Quillmark
sender: {{name: Tomás Ferreira, title: Founder, company: Quillmark}}
value_proposition: Quillmark turns signed contracts into a searchable list of every renewal date
  and notice period.
calls_to_action: ["Would 20 minutes on Tuesday suit you for a quick look?"]
proof_points:
  - id: qm-renewals
    text: Legal teams using Quillmark have missed no renewal notice in the last two years.
    roles: [general counsel, legal operations]
"""


@pytest.fixture()
def cli(stack, monkeypatch):
    """Run the CLI in-process with the test stack's connection settings."""
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", stack.bootstrap_servers)
    monkeypatch.setenv("REDIS_URL", stack.redis_url)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, ["campaign", *args])


def test_add_list_show_retire_on_the_compacted_topic(cli, tmp_path, unique):
    campaign_id = f"quill-{unique}"
    brief = tmp_path / "quillmark.yaml"
    brief.write_text(BRIEF.format(campaign_id=campaign_id))

    first = cli("add", str(brief))
    assert first.exit_code == 0, first.output
    assert f"published {campaign_id} v1 (Quillmark, 1 facts)" in first.output
    again = cli("add", str(brief))  # the same id again: a new version, not a second campaign
    assert again.exit_code == 0 and f"{campaign_id} v2" in again.output

    listed = cli("list")
    assert listed.exit_code == 0, listed.output
    row = next(line for line in listed.output.splitlines() if campaign_id in line)
    assert "│ 2 " in row and "active" in row and "Quillmark" in row

    shown = cli("show", campaign_id)
    assert shown.exit_code == 0, shown.output
    record = json.loads(shown.output)
    assert (record["version"], record["status"]) == (2, "active")
    assert record["sender"]["name"] == "Tomás Ferreira"
    assert record["proof_points"][0]["id"] == "qm-renewals"

    retired = cli("retire", str(brief))  # by its brief file, or by id
    assert retired.exit_code == 0 and f"retired {campaign_id} (v3)" in retired.output
    assert json.loads(cli("show", campaign_id).output)["status"] == "retired"


def test_an_invalid_brief_is_refused_with_every_field_path_and_exit_2(cli, tmp_path, unique):
    brief = tmp_path / "broken.yaml"
    brief.write_text(BRIEF.format(campaign_id=f"broken-{unique}")
                     .replace("id: qm-renewals", "id: 'has spaces'")
                     .replace("sender: {name: Tomás Ferreira, title: Founder, company: Quillmark}",
                              "sender: {name: Tomás Ferreira}"))
    result = cli("add", str(brief))
    assert result.exit_code == 2
    assert "broken.yaml: sender.company: Field required" in result.output
    assert "broken.yaml: proof_points[0].id:" in result.output
    # Nothing was published.
    assert cli("show", f"broken-{unique}").exit_code == 2


def test_retiring_an_unknown_campaign_is_an_error(cli, unique):
    result = cli("retire", f"nobody-{unique}")
    assert result.exit_code == 2 and f"no campaign 'nobody-{unique}'" in result.output


def test_campaign_commands_are_quiet(stack, tmp_path, unique):
    """An operator's one-shot command answers with its result, not with the libraries' INFO
    lines (a separate process: in-process, pytest owns the logging set-up)."""
    import os
    import subprocess
    import sys

    brief = tmp_path / "quillmark.yaml"
    brief.write_text(BRIEF.format(campaign_id=f"quiet-{unique}"))
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": stack.bootstrap_servers,
           "REDIS_URL": stack.redis_url}
    for args in (["add", str(brief)], ["list"]):
        run = subprocess.run([sys.executable, "-m", "apps", "campaign", *args], env=env,
                             capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        assert f"quiet-{unique}" in run.stdout
        assert " INFO " not in run.stderr and " DEBUG " not in run.stderr, run.stderr
