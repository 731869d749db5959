"""Shared fixtures. Pulumi mocks are set per capture by mlops_bp.stacks.capture."""

from __future__ import annotations

import pytest

from mlops_bp.blueprints import Blueprint, blueprint_from_data

# The moto server fixtures of the account-operation tests (the server starts only when used).
from .moto_server import aws_env, moto_server, no_credentials  # noqa: F401


def make_blueprint(level: int, platform: str = "sagemaker", **overrides) -> Blueprint:
    data = {"name": "fraud-detect", "level": level, "platform": platform, "github": "acme/fraud-detect", **overrides}
    return blueprint_from_data(data)


@pytest.fixture
def blueprint_factory():
    return make_blueprint
