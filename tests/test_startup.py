"""The CLI's startup path stays light: `--help` of the root and of every command works without
loading pulumi, the providers, boto3 or cookiecutter (they load only when a command runs)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from mlops_bp.cli.app import app

# Plus the spec models: building them costs more than the rest of startup together. (Typer
# itself loads pydantic to coerce parameters, so pydantic alone is not a fair signal.)
HEAVY = (
    "pulumi",
    "pulumi_aws",
    "pulumi_kubernetes",
    "boto3",
    "botocore",
    "cookiecutter",
    "jinja2",
    "mlops_bp.blueprints.models",
    "mlops_bp.blueprints.kubernetes",
)


def _command_paths(command: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command and group below `command`, as argument paths (('plan',), ('account', 'x')).
    Duck-typed: Typer may use click or its own vendored copy."""
    paths: list[tuple[str, ...]] = []
    if hasattr(command, "list_commands"):
        ctx = command.context_class(command)
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is None or getattr(sub, "hidden", False):
                continue
            paths.append((*prefix, name))
            paths.extend(_command_paths(sub, (*prefix, name)))
    return paths


COMMAND_PATHS = _command_paths(typer.main.get_command(app))


def _heavy_modules_after(code: str) -> list[str]:
    probe = (
        "import sys, json\n"
        f"{code}\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m in {set(HEAVY)!r} or m.split('.')[0] in {set(HEAVY)!r})))"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_root_help_does_not_load_heavy_modules():
    loaded = _heavy_modules_after(
        "from mlops_bp.cli.app import app\n"
        "from typer.testing import CliRunner\n"
        "result = CliRunner().invoke(app, ['--help'])\n"
        "assert result.exit_code == 0, result.output"
    )
    assert loaded == []


def test_every_command_help_does_not_load_heavy_modules():
    invocations = "\n".join(
        f"r = CliRunner().invoke(app, {[*path, '--help']!r}); assert r.exit_code == 0, r.output"
        for path in COMMAND_PATHS
    )
    loaded = _heavy_modules_after(
        f"from mlops_bp.cli.app import app\nfrom typer.testing import CliRunner\n{invocations}"
    )
    assert loaded == []


def test_the_probe_sees_heavy_imports():
    assert _heavy_modules_after("import pulumi") != []


def test_commands_are_enumerated():
    assert {("plan",), ("levels",), ("schema",)} <= set(COMMAND_PATHS)


@pytest.mark.parametrize("path", COMMAND_PATHS, ids=" ".join)
def test_command_help(path):
    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert f"Usage: mlops-bp {' '.join(path)}" in " ".join(result.output.split())
