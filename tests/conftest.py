"""Shared fixtures. Pulumi mocks are set per capture by mlops_bp.stacks.capture."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_bp.blueprints import Blueprint, blueprint_from_data

# The moto server fixtures of the account-operation tests (the server starts only when used).
from .moto_server import aws_env, moto_server, no_credentials  # noqa: F401


def make_blueprint(level: int, platform: str = "sagemaker", ci: str = "github", **overrides) -> Blueprint:
    """The test blueprint; its CI repository is on GitHub or GitLab, as `ci` says."""
    repository = {"github": "acme/fraud-detect"} if ci == "github" else {"gitlab": "acme/fraud-detect"}
    data = {"name": "fraud-detect", "level": level, "platform": platform, **repository, **overrides}
    return blueprint_from_data(data)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """render(level, platform, ci) -> the generated repo, rendered once per module."""
    from mlops_bp.templates.render import render_tree

    cache: dict[tuple, Path] = {}

    def render(level: int, platform: str, ci: str) -> Path:
        key = (level, platform, ci)
        if key not in cache:
            dest = tmp_path_factory.mktemp(f"l{level}-{platform}-{ci}") / "repo"
            render_tree(make_blueprint(level, platform, ci), ci, dest)
            cache[key] = dest
        return cache[key]

    return render


@pytest.fixture
def blueprint_factory():
    return make_blueprint
