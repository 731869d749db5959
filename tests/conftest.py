"""Shared fixtures. Pulumi mocks are set per capture by mlops_bp.stacks.capture."""

from __future__ import annotations

import pytest

from mlops_bp.blueprints import Blueprint, blueprint_from_data


def make_blueprint(level: int, platform: str = "sagemaker", **overrides) -> Blueprint:
    data = {"name": "fraud-detect", "level": level, "platform": platform, "github": "acme/fraud-detect", **overrides}
    return blueprint_from_data(data)


@pytest.fixture
def blueprint_factory():
    return make_blueprint
