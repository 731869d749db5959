"""Shared fixtures. Pulumi mocks are set per capture by mlops_bp.stacks.capture."""

from __future__ import annotations

import pytest

from mlops_bp.blueprints import Blueprint, blueprint_from_data

# The moto server fixtures of the account-operation tests (the server starts only when used).
from .moto_server import aws_env, moto_server, no_credentials  # noqa: F401


def make_blueprint(level: int, platform: str = "sagemaker", ci: str = "github", **overrides) -> Blueprint:
    """The test blueprint; its CI repository is on GitHub or GitLab, as `ci` says."""
    repository = {"github": "acme/fraud-detect"} if ci == "github" else {"gitlab": "acme/fraud-detect"}
    data = {"name": "fraud-detect", "level": level, "platform": platform, **repository, **overrides}
    return blueprint_from_data(data)


@pytest.fixture
def blueprint_factory():
    return make_blueprint
