"""`mlops-bp plan --check`: the rule pack on the offline plan, through CliRunner."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from mlops_bp.blueprints import save_blueprint
from mlops_bp.blueprints.models import RULE_IDS
from mlops_bp.cli.app import app
from mlops_bp.stacks import plan as plan_module

from .conftest import make_blueprint
from .graphs import graph
from .test_rules import SSE, removed

runner = CliRunner()
REPO = ("--name", "fraud-detect", "--github", "acme/fraud-detect")


def run(*args: str):
    return runner.invoke(app, list(args))


@pytest.fixture
def unencrypted(monkeypatch):
    """The plan of a stack whose data bucket lost its encryption configuration."""
    broken = removed(SSE, "data")(graph(1, "dev", "sagemaker"))
    monkeypatch.setattr(plan_module, "plan", lambda *args, **kwargs: broken)


def _config(tmp_path, **settings):
    path = tmp_path / "mlops-bp.yaml"
    save_blueprint(make_blueprint(1, **settings), path)
    return str(path)


@pytest.mark.parametrize(
    "args",
    [
        ("--level", "0", *REPO),
        ("--level", "3", *REPO, "--env", "prod", "--deployed"),
        ("--level", "4", *REPO, "--platform", "kubernetes", "--deployed"),
        ("--level", "2", "--name", "fraud-detect"),  # no CI repository
    ],
    ids=["sagemaker-0", "sagemaker-3-prod-deployed", "kubernetes-4-deployed", "no-ci"],
)
def test_a_generated_stack_passes_every_rule(args):
    result = run("plan", *args, "--check")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith("rule pack on fraud-detect, environment ")
    assert all(rule_id in out for rule_id in RULE_IDS)
    assert "FAIL" not in out and "violations" not in out
    assert max(len(line) for line in out.splitlines()) <= 80


def test_a_violation_names_the_rule_and_exits_1(unencrypted):
    result = run("plan", "--level", "1", *REPO, "--check")
    assert result.exit_code == 1, result.output
    row = next(line for line in result.stdout.splitlines() if line.startswith("MLOPS-S3-001"))
    assert "FAIL" in row
    assert "fraud-detect-dev-data-bucket" in result.stdout
    assert "no server-side encryption configuration" in " ".join(result.stdout.split())
    assert "1 mandatory rule(s) violated: MLOPS-S3-001" in result.stderr
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_json_report(unencrypted):
    result = run("plan", "--level", "1", *REPO, "--check", "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["passed"] is False and report["stack"] == "dev"
    assert [r["id"] for r in report["rules"]] == list(RULE_IDS)
    [s3] = [r for r in report["rules"] if r["id"] == "MLOPS-S3-001"]
    assert s3["status"] == "non-compliant" and s3["enforcement"] == "mandatory"
    assert {f["name"]: f["status"] for f in s3["findings"]} == {"fraud-detect-dev-data-bucket": "non-compliant"}


def test_an_advisory_rule_is_shown_with_its_reason_and_does_not_fail(unencrypted, tmp_path):
    config = _config(tmp_path, rules={"advisory": {"MLOPS-S3-001": "public reference data only"}})
    result = run("plan", "--config", config, "--check")
    assert result.exit_code == 0, result.output
    row = next(line for line in result.stdout.splitlines() if line.startswith("MLOPS-S3-001"))
    assert "advisory" in row
    text = " ".join(result.stdout.split())
    assert "(advisory) no server-side encryption configuration" in text
    assert "advisory MLOPS-S3-001: public reference data only" in text
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
    report = json.loads(run("plan", "--config", config, "--check", "--json").stdout)
    [s3] = [r for r in report["rules"] if r["id"] == "MLOPS-S3-001"]
    assert report["passed"] is True
    assert s3["enforcement"] == "advisory" and s3["advisory_reason"] == "public reference data only"


def test_an_unknown_advisory_rule_is_a_one_line_error(tmp_path):
    path = tmp_path / "mlops-bp.yaml"
    path.write_text("name: fraud-detect\nlevel: 1\nrules:\n  advisory:\n    MLOPS-S3-01: legacy bucket\n")
    result = run("plan", "--config", str(path), "--check")
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [
        f"error: {path}: rules.advisory: unknown rule 'MLOPS-S3-01'; did you mean MLOPS-S3-001?",
    ]
    assert "Traceback" not in result.output


def test_help_mentions_check():
    result = run("plan", "--help")
    assert result.exit_code == 0
    assert "--check" in result.stdout
