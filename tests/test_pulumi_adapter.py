"""Capture survives Pulumi releases: every Pulumi internal it uses is reached through
stacks/pulumi_adapter.py, which names the Pulumi version and the internal that changed."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

from mlops_bp.blueprints import MlopsBpError
from mlops_bp.stacks import pulumi_adapter

ROOT = Path(__file__).resolve().parents[1]


def test_the_installed_pulumi_offers_every_internal_capture_uses():
    assert pulumi_adapter.problems() == []


def test_no_other_module_touches_pulumi_internals():
    private = re.compile(
        r"pulumi\.runtime\.(rpc|settings|stack|mocks)\b|from pulumi\.runtime(\.\w+)? import (rpc|settings|mocks)\b"
    )
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("stacks", "cli", "blueprints", "templates")
        for path in (ROOT / folder).rglob("*.py")
        if path.name != "pulumi_adapter.py" and private.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_a_changed_internal_is_named_with_the_pulumi_version(monkeypatch):
    from pulumi.runtime import rpc

    monkeypatch.delattr(rpc, "_special_secret_sig")
    found = pulumi_adapter.problems()
    assert found == [f"pulumi {version('pulumi')}: pulumi.runtime.rpc._special_secret_sig is gone"]
    with pytest.raises(
        MlopsBpError, match=r"cannot capture with the installed Pulumi: pulumi \d+\.\d+\.\d+: pulumi\.runtime\.rpc"
    ):
        pulumi_adapter.require()


def test_a_changed_signature_is_named(monkeypatch):
    from pulumi.runtime import stack

    monkeypatch.setattr(stack, "run_pulumi_func", lambda program, options: None)
    (found,) = pulumi_adapter.problems()
    assert found.startswith(f"pulumi {version('pulumi')}: pulumi.runtime.stack.run_pulumi_func(program, options)")
    assert found.endswith("does not take 1 argument(s)")


def test_pyproject_accepts_the_pulumi_ci_tests():
    """The accepted range is the tested one: the installed (tested) Pulumi is inside it, and
    it ends before the next minor release, which nobody has tested yet."""
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    (pulumi,) = [d for d in dependencies if re.match(r"pulumi\s*[<>=!~]", d)]
    specifier = SpecifierSet(pulumi.removeprefix("pulumi"))
    installed = version("pulumi")
    assert installed in specifier
    major, minor, _ = (int(x) for x in installed.split("."))
    assert f"{major}.{minor + 1}.0" not in specifier
