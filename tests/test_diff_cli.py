"""`mlops-bp diff` through the CLI: output, JSON, exit codes."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from mlops_bp.blueprints import save_blueprint
from mlops_bp.cli.app import app

from .conftest import make_blueprint
from .test_diff_levels import _rename_data_bucket_from_level_2


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no ./mlops-bp.yaml unless a test writes one
    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args))


def test_help(run):
    result = run("diff", "--help")
    assert result.exit_code == 0
    assert "--from" in result.output and "--to" in result.output


def test_upgrade_adds_resources_and_exits_zero(run):
    result = run("diff", "--from", "0", "--to", "1")
    assert result.exit_code == 0, result.output
    assert "level 0 -> 1" in result.output
    assert "+ aws:ecr:Repository" in result.output
    assert "defaultTags.tags.mlops-bp:level: 0 -> 1" in result.output
    assert "DATA WOULD BE LOST" not in result.output


def test_json_lists_every_stack(run):
    result = run("diff", "--from", "2", "--to", "3", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert (doc["from"], doc["to"], doc["platform"]) == (2, 3, "sagemaker")
    assert [(s["stack"], s["status"]) for s in doc["stacks"]] == [
        ("dev", "existing"),
        ("staging", "new"),
        ("prod", "new"),
    ]
    assert doc["destroys_data"] == []
    assert doc["stacks"][1]["counts"]["create"] > 10


def test_one_environment(run):
    result = run("diff", "--from", "2", "--to", "3", "--env", "prod", "--json")
    assert [s["stack"] for s in json.loads(result.stdout)["stacks"]] == ["prod"]
    bad = run("diff", "--from", "2", "--to", "3", "--env", "qa")
    assert bad.exit_code == 2
    assert "env: 'qa' is in neither blueprint" in bad.output


def test_downgrade_that_drops_stacks_exits_one(run):
    result = run("diff", "--from", "3", "--to", "2")
    assert result.exit_code == 1
    assert "stack prod (no longer declared" in result.output
    assert "DATA WOULD BE LOST" in result.output
    assert "stateful resource(s) would be replaced or deleted" in result.output


def test_breaking_change_in_the_stacks_exits_one(run, monkeypatch):
    _rename_data_bucket_from_level_2(monkeypatch, logical=True)
    result = run("diff", "--from", "1", "--to", "2")
    assert result.exit_code == 1
    assert "- aws:s3:Bucket  mlops-demo-dev-data-bucket" in result.output
    assert "DATA WOULD BE LOST" in result.output
    doc = json.loads(run("diff", "--from", "1", "--to", "2", "--json").stdout)
    assert doc["destroys_data"] == [
        "urn:pulumi:dev::mlops-demo::mlopsbp:aws:SecureBucket$aws:s3/bucket:Bucket::mlops-demo-dev-data-bucket"
    ]


def test_reads_the_config_and_keeps_its_settings(run, tmp_path):
    blueprint = make_blueprint(1, monitoring={"log_retention_days": 90})
    save_blueprint(blueprint, tmp_path / "mlops-bp.yaml")
    result = run("diff", "--to", "2", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert (doc["from"], doc["to"]) == (1, 2)
    urns = [c["urn"] for s in doc["stacks"] for c in s["changes"]]
    assert all("::fraud-detect-dev-" in u for u in urns)
    explicit = run("diff", "--config", str(tmp_path / "mlops-bp.yaml"), "--from", "2", "--to", "3", "--json")
    assert json.loads(explicit.stdout)["from"] == 2
    # The setting needs level 1: the diff from level 0 says so in one line.
    too_low = run("diff", "--from", "0", "--to", "1")
    assert too_low.exit_code == 2
    assert "monitoring.log_retention_days: needs level 1 or higher (blueprint is level 0)" in too_low.output


def test_bad_input_is_one_line_exit_two(run):
    missing = run("diff", "--to", "2")
    assert missing.exit_code == 2
    assert "--from: give the level to compare from" in missing.output
    out_of_range = run("diff", "--from", "1", "--to", "7")
    assert out_of_range.exit_code == 2
    assert "Traceback" not in out_of_range.output
