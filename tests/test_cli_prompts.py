"""Interactive `mlops-bp init` in a real pseudo-terminal: choices case-insensitive, each answer
judged by the Blueprint at once and asked again with the reason, and the defaults alone make a
repo whose blueprint plans."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pexpect
import pytest
from typer.testing import CliRunner

from mlops_bp.blueprints import load_blueprint
from mlops_bp.cli.app import app

CLI = shutil.which("mlops-bp", path=str(Path(sys.executable).parent)) or "mlops-bp"
TIMEOUT = 60


def _spawn(tmp_path: Path, *args: str) -> pexpect.spawn:
    env = {**os.environ, "COLUMNS": "80", "NO_COLOR": "1", "TERM": "dumb"}
    env.pop("FORCE_COLOR", None)
    child = pexpect.spawn(
        CLI, ["init", "-o", str(tmp_path), *args], cwd=str(tmp_path), env=env, encoding="utf-8", timeout=TIMEOUT
    )
    child.setwinsize(24, 80)
    return child


def _answer(child: pexpect.spawn, prompt: str, answer: str) -> None:
    child.expect_exact(prompt)
    child.sendline(answer)


def _refused(child: pexpect.spawn, reason: str) -> None:
    """The answer was refused with `reason`, and the same question comes again."""
    child.expect_exact(reason)


def test_wrong_answers_are_asked_again(tmp_path):
    child = _spawn(tmp_path)
    _answer(child, "MLOps maturity level (0-4) [1]:", "7")
    _refused(child, "level: must be one of 0, 1, 2, 3, 4")
    _answer(child, "MLOps maturity level (0-4) [1]:", "3")
    _answer(child, "Platform (sagemaker, kubernetes) [sagemaker]:", "aws")
    _refused(child, "both platforms run on AWS")
    _answer(child, "Platform (sagemaker, kubernetes) [sagemaker]:", "SageMaker")
    _answer(child, "Project name [mlops-demo]:", "9lives")
    _refused(child, "name: must start with a letter")
    _answer(child, "Project name [mlops-demo]:", "fraud-detect")
    _answer(child, "AWS region [us-east-1]:", "il-centra-1")
    _refused(child, "did you mean il-central-1?")
    _answer(child, "AWS region [us-east-1]:", "eu-west-1")
    _answer(child, "CI system (github, gitlab) [github]:", "jenkins")
    _refused(child, "one of github, gitlab")
    _answer(child, "CI system (github, gitlab) [github]:", "GitLab")
    _answer(child, "GitLab GROUP/PROJECT allowed to deploy (empty: none):", "not a project")
    _refused(child, "gitlab: must be GROUP/PROJECT")
    _answer(child, "GitLab GROUP/PROJECT allowed to deploy (empty: none):", "acme/ml/fraud-detect")
    child.expect_exact("Created")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    repo = tmp_path / "fraud-detect"
    blueprint = load_blueprint(repo / "mlops-bp.yaml")
    assert (int(blueprint.level), blueprint.platform.value, blueprint.region, blueprint.gitlab) == (
        3,
        "sagemaker",
        "eu-west-1",
        "acme/ml/fraud-detect",
    )
    assert (repo / ".gitlab-ci.yml").is_file() and not (repo / ".github").exists()


def test_flags_are_not_asked_and_bad_flags_fail_before_any_question(tmp_path):
    child = _spawn(tmp_path, "--region", "mars-1")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 2
    assert "error: region: unknown AWS region" in child.before and "level (" not in child.before


@pytest.mark.parametrize("platform", ["sagemaker"])
def test_the_defaults_make_a_repo_that_plans(tmp_path, monkeypatch, platform):
    child = _spawn(tmp_path, "--platform", platform)
    for prompt in ("level (0-4) [1]:", "Project name [mlops-demo]:", "AWS region [us-east-1]:", "[github]:"):
        _answer(child, prompt, "")
    _answer(child, "GitHub OWNER/REPO allowed to deploy (empty: none):", "")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    assert "note: no `github`" in child.before  # an empty answer is allowed, and said
    repo = tmp_path / "mlops-demo"
    assert (repo / ".github/workflows/ci.yml").is_file()
    monkeypatch.chdir(repo)  # the repo's own blueprint, as `pulumi up` there reads it
    result = CliRunner().invoke(app, ["plan", "--json"])
    assert result.exit_code == 0, result.output
