"""The Blueprint is the only judge of validity: for a corpus of settings, `plan`, `init`, `cost`,
`doctor` and the Pulumi entry (what `pulumi up` runs in a generated repo) reach the same verdict,
from a blueprint file and from flags; and every blueprint command takes the same flags."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pulumi
import pytest
import typer
import typer.main
import yaml
from typer.testing import CliRunner

from mlops_bp.blueprints import BlueprintError, blueprint_from_data
from mlops_bp.cli import ops
from mlops_bp.cli.app import app
from mlops_bp.cli.options import BLUEPRINT_FLAGS

from .test_pulumi_entry import _run as run_entry

runner = CliRunner()
REACHED_AWS = 42  # doctor's exit code here once the blueprint is accepted (no AWS call is made)

# name -> (settings as in mlops-bp.yaml, the field the verdict names; None: valid)
CORPUS: dict[str, tuple[dict[str, Any], str | None]] = {
    "level 0": ({"name": "churn", "level": 0}, None),
    "level 2 on gitlab": ({"name": "churn", "level": 2, "gitlab": "acme/ml/churn"}, None),
    "name starts with a digit": ({"name": "9lives", "level": 1}, "name"),
    "name hides a stdlib module": ({"name": "json", "level": 1}, "name"),
    "name is a template dependency": ({"name": "flask", "level": 1}, "name"),
    "name too long for staging": ({"name": "n" * 29, "level": 3}, "name, environments"),
    "name too long on kubernetes": ({"name": "k" * 26, "level": 1, "platform": "kubernetes"}, "name, environments"),
    "level out of range": ({"name": "churn", "level": 7}, "level"),
    "region misspelt": ({"name": "churn", "level": 1, "region": "il-centra-1"}, "region"),
    "no model monitor in the region": ({"name": "churn", "level": 4, "region": "ca-west-1"}, "region"),
    "setting above the level": ({"name": "churn", "level": 1, "training": {"use_spot": True}}, "training"),
    "two CI systems": ({"name": "churn", "level": 1, "github": "acme/churn", "gitlab": "acme/churn"}, "github, gitlab"),
    "instance type not for endpoints": (
        {"name": "churn", "level": 3, "serving": {"instance_type": "ml.t3.nano"}},
        "serving.instance_type",
    ),
    "schedule no CronJob can run": (
        {"name": "churn", "level": 2, "platform": "kubernetes", "training": {"schedule": "rate(7 minutes)"}},
        "training.schedule",
    ),
    "variant below one percent": (
        {
            "name": "churn",
            "level": 3,
            "platform": "kubernetes",
            "serving": {"variants": [{"name": "a", "weight": 0.995}, {"name": "b", "weight": 0.005}]},
        },
        "serving.variants",
    ),
    "EKS with one subnet": (
        {
            "name": "churn",
            "level": 0,
            "platform": "kubernetes",
            "kubernetes": {"cluster": {"create": True, "subnet_ids": ["subnet-0123abcd"]}},
        },
        "kubernetes.cluster.subnet_ids",
    ),
    "unknown key": ({"name": "churn", "level": 2, "trainnig": {"use_spot": True}}, "trainnig"),
}


def _message(text: str) -> str:
    """The verdict without who says it: `error: `, `mlops-bp: ` and the source file."""
    line = text.strip().splitlines()[-1] if text.strip() else ""
    line = re.sub(r"^(error: |mlops-bp: )", "", line)
    return re.sub(r"^\S+\.yaml: ", "", line)


def _cli(args: list[str]) -> tuple[int, str]:
    result = runner.invoke(app, args)
    return result.exit_code, _message(result.stderr) if result.exit_code == 2 else ""


@pytest.fixture
def no_aws(monkeypatch):
    """doctor stops where it would first talk to AWS: the blueprint was accepted."""

    def _stop(*args: Any, **kwargs: Any) -> None:
        raise typer.Exit(REACHED_AWS)

    monkeypatch.setattr(ops, "_connect", _stop)


def _verdicts(config: Path, out: Path) -> dict[str, str | None]:
    """command -> None (accepted) or the one-line reason (refused)."""
    verdicts: dict[str, str | None] = {}
    commands = {
        "plan": ["plan", "--config", str(config), "--json"],
        "init": ["init", "--config", str(config), "--no-input", "-o", str(out)],
        "cost": ["cost", "--config", str(config), "--json"],
        "doctor": ["doctor", "--config", str(config)],
    }
    for command, args in commands.items():
        code, message = _cli(args)
        accepted = code == (REACHED_AWS if command == "doctor" else 0)
        assert accepted or code == 2, f"{command}: exit {code}"
        verdicts[command] = None if accepted else message
    try:
        run_entry("dev", {"mlops-bp:config": str(config)})
        verdicts["pulumi up"] = None
    except pulumi.RunError as exc:
        verdicts["pulumi up"] = _message(str(exc))
    return verdicts


@pytest.mark.parametrize("case", list(CORPUS))
def test_every_command_gives_the_blueprints_verdict(case, tmp_path, no_aws):
    settings, field = CORPUS[case]
    config = tmp_path / "mlops-bp.yaml"
    config.write_text(yaml.safe_dump(settings), encoding="utf-8")
    try:
        blueprint_from_data(settings)
        expected = None
    except BlueprintError as exc:
        expected = str(exc)
    assert (expected is None) == (field is None), expected
    if field is not None:
        assert expected.startswith(f"{field}:") or expected.startswith(f"{field} "), expected
    verdicts = _verdicts(config, tmp_path / "out")
    assert verdicts == dict.fromkeys(verdicts, expected)
    assert (tmp_path / "out").exists() == (expected is None)  # a refused blueprint writes nothing


# Settings that flags can carry: the same verdict as from the file.
FLAG_CASES = {
    "name starts with a digit": ["--level", "1", "--name", "9lives"],
    "region misspelt": ["--level", "1", "--name", "churn", "--region", "il-centra-1"],
    "no model monitor in the region": ["--level", "4", "--name", "churn", "--region", "ca-west-1"],
    "level out of range": ["--level", "7", "--name", "churn"],
    "two CI systems": ["--level", "1", "--name", "churn", "--github", "acme/churn", "--gitlab", "acme/churn"],
    "name too long on kubernetes": ["--level", "1", "--name", "k" * 26, "--platform", "kubernetes"],
}


@pytest.mark.parametrize("case", list(FLAG_CASES))
def test_flags_get_the_same_verdict_as_the_file(case, tmp_path, monkeypatch, no_aws):
    monkeypatch.chdir(tmp_path)  # no ./mlops-bp.yaml
    expected = str(_expected_error(CORPUS[case][0]))
    for command in (["plan"], ["cost"], ["doctor"], ["init", "--no-input", "-o", "out"], ["diff", "--to", "2"]):
        code, message = _cli([*command, *FLAG_CASES[case]])
        assert (code, message) == (2, expected), command
    assert not (tmp_path / "out").exists()


def _expected_error(settings: dict[str, Any]) -> BlueprintError:
    with pytest.raises(BlueprintError) as caught:
        blueprint_from_data(settings)
    return caught.value


def _options(path: tuple[str, ...]) -> dict[str, set[str]]:
    """parameter name -> its option strings, of the command at `path`."""
    command: Any = typer.main.get_command(app)
    for name in path:
        command = command.get_command(command.context_class(command), name)
    return {p.name: set(p.opts) for p in command.params}


BLUEPRINT_COMMANDS = [("plan",), ("init",), ("cost",), ("doctor",), ("diff",)]


@pytest.mark.parametrize("path", BLUEPRINT_COMMANDS, ids=" ".join)
def test_every_blueprint_command_takes_the_same_flags(path):
    reference = _options(("plan",))
    options = _options(path)
    for name in BLUEPRINT_FLAGS:
        assert reference[name] <= options[name], f"{path}: {name}"  # diff's --level is also --from


def test_the_file_then_the_flags_level_included(tmp_path, monkeypatch, no_aws):
    """Inside a repo, flags apply on top of its blueprint, --level as `upgrade` would."""
    (tmp_path / "mlops-bp.yaml").write_text(
        yaml.safe_dump(
            {
                "name": "churn",
                "level": 2,
                "region": "eu-west-1",
                "environments": [{"name": "dev"}],
                "training": {"use_spot": True},
            }
        )
    )
    monkeypatch.chdir(tmp_path)

    plan = runner.invoke(app, ["plan", "--level", "3", "--env", "prod", "--json"])
    assert plan.exit_code == 0, plan.output
    assert json.loads(plan.stdout)["project"] == "churn"  # the file's name, at level 3 with prod
    cost = runner.invoke(app, ["cost", "--level", "3", "--region", "us-east-1", "--json"])
    assert cost.exit_code == 0, cost.output
    assert {line["environment"] for line in json.loads(cost.stdout)["lines"]} == {"dev", "staging", "prod"}
    init = runner.invoke(app, ["init", "--level", "3", "--no-input", "-o", "out"])
    assert init.exit_code == 0, init.output
    written = yaml.safe_load((tmp_path / "out" / "churn" / "mlops-bp.yaml").read_text())
    assert (written["level"], written["region"], len(written["environments"])) == (3, "eu-west-1", 3)
    # A level the file's settings do not allow is refused by each the same way.
    for command in (["plan"], ["cost"], ["doctor"], ["init", "--no-input", "-o", "out1"], ["diff", "--to", "2"]):
        result = runner.invoke(app, [*command, "--level", "1"])
        assert (result.exit_code, _message(result.stderr)) == (
            2,
            "training: needs level 2 or higher (blueprint is level 1)",
        ), command
