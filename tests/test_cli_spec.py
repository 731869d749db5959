"""`mlops-bp plan`, `levels`, `schema` and the error contract, through CliRunner."""

from __future__ import annotations

import json

import pytest
import yaml
from typer.testing import CliRunner

from mlops_bp.blueprints import save_blueprint
from mlops_bp.cli.app import app

from .conftest import make_blueprint

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args))


def assert_user_error(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0]
    assert "Traceback" not in result.output and result.exception is None or isinstance(result.exception, SystemExit)


def test_plan_prints_the_tree_grouped_by_capability():
    result = run("plan", "--level", "2", "--github", "acme/fraud-detect", "--name", "fraud-detect")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "fraud-detect level 2 on sagemaker, environment dev, us-east-1: 33 resources" in out
    assert "created at the first deploy" in result.stderr  # day one: no endpoint, says why
    assert "stack outputs: " in out and "training_pipeline_name" in out
    for capability in ("storage", "registry", "training", "monitoring", "iam"):  # serving: at first deploy
        assert capability in out
    assert "aws:sagemaker:Pipeline" in out  # type tokens as `pulumi preview` shows them
    assert "protected" in out


def test_plan_deployed_shows_the_stack_once_it_serves():
    result = run("plan", "--level", "2", "--github", "acme/fraud-detect", "--deployed")
    assert result.exit_code == 0, result.output
    assert "aws:sagemaker:Endpoint" in result.stdout and "aws:scheduler:Schedule" in result.stdout
    assert "first deploy" not in result.stderr


def test_plan_json_is_the_captured_graph():
    result = run("plan", "--level", "1", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["project"] == "mlops-demo" and data["stack"] == "dev"
    types = {r["type"] for r in data["resources"]}
    assert "aws:sagemaker/endpoint:Endpoint" not in types  # nothing to serve before the first deploy
    assert data["outputs"]["endpoint"] == "created at first deploy"
    assert data["outputs"]["repository_url"].endswith(".amazonaws.com/mlops-demo-dev")
    bucket = next(r for r in data["resources"] if r["type"] == "aws:s3/bucket:Bucket")
    assert bucket["protect"] is True and bucket["urn"].startswith("urn:pulumi:dev::mlops-demo::")
    assert set(bucket) >= {"type", "name", "urn", "parent", "inputs", "protect", "capability"}
    assert "no `github`" in result.stderr  # the skipped CI role is said, on stderr


def test_plan_reads_the_config_file_and_picks_an_environment(tmp_path, monkeypatch):
    save_blueprint(make_blueprint(3), tmp_path / "mlops-bp.yaml")
    monkeypatch.chdir(tmp_path)
    result = run("plan", "--env", "prod", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["stack"] == "prod"
    assert_user_error(run("plan", "--env", "qa"), "environment: 'qa' is not in this blueprint")


def test_plan_kubernetes_platform_flag_is_parsed():
    result = run("plan", "--level", "0", "--platform", "KUBERNETES", "--json")
    assert result.exit_code == 0, result.output


def test_levels_table_lists_every_level():
    result = run("levels")
    assert result.exit_code == 0
    for title in ("No MLOps", "DevOps, no MLOps", "Automated training", "Automated model deployment", "Full automated"):
        assert title in result.stdout


def test_schema_command(tmp_path):
    result = run("schema")
    assert result.exit_code == 0 and json.loads(result.stdout)["title"] == "mlops-bp blueprint"
    target = tmp_path / "schema.json"
    assert run("schema", "--output", str(target)).exit_code == 0
    assert json.loads(target.read_text())["additionalProperties"] is False


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--level", "5"], ["level: must be one of 0, 1, 2, 3, 4"]),
        (["--level", "-1"], ["level: must be one of 0, 1, 2, 3, 4"]),
        (["--level", "three"], ["level: must be one of 0, 1, 2, 3, 4", "'three'"]),
        (["--level", "1", "--name", "My_Project"], ["name: must be 3-40 characters", "My_Project"]),
        (["--level", "1", "--name", "a"], ["name: "]),
        (["--level", "1", "--name", "../etc"], ["name: ", "../etc"]),
        (["--level", "1", "--name", "x" * 64], ["name: "]),
        (["--level", "1", "--region", "mars-east-1"], ["region: unknown AWS region"]),
        (["--level", "1", "--github", "nope"], ["github: must be OWNER/REPO"]),
        (["--level", "1", "--platform", "azure"], ["--platform"]),
        ([], ["--level"]),
        (["--config", "missing.yaml"], ["does not exist"]),
    ],
)
def test_bad_input_is_one_line_exit_2(args, fragments):
    assert_user_error(run("plan", *args), *fragments)


def test_unknown_keys_in_the_config_file(tmp_path):
    path = tmp_path / "mlops-bp.yaml"
    path.write_text(yaml.safe_dump({"name": "fraud-detect", "level": 2, "trainnig": {"use_spot": True}}))
    assert_user_error(run("plan", "--config", str(path)), "trainnig: unknown key")
    path.write_text(yaml.safe_dump({"name": "fraud-detect", "level": 2, "training": {"spot": True}}))
    assert_user_error(run("plan", "--config", str(path)), "training.spot: unknown key")


def test_unknown_command_and_option_are_one_line():
    assert_user_error(run("pln"), "No such command")
    assert_user_error(run("plan", "--levle", "1"), "No such option")


def test_no_arguments_shows_help():
    result = run()
    assert result.exit_code == 2
    assert "Usage" in result.output and "plan" in result.output


def test_version():
    result = run("--version")
    assert result.exit_code == 0 and result.stdout.startswith("mlops-bp ")
