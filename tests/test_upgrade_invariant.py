"""Upgrading N -> N+1 only adds: every stateful resource keeps its URN, its
replacement-forcing inputs and its protection, on every environment both levels share."""

from __future__ import annotations

import pytest

from mlops_bp.stacks.diff import GENERIC_REPLACE_ON, RESOURCE_KINDS

from .graphs import graph


def _envs(level: int) -> tuple[str, ...]:
    return ("dev",) if level < 3 else ("dev", "staging", "prod")


CASES = [
    (platform, level, env, deployed)
    for deployed in (False, True)
    for platform in ("sagemaker", "kubernetes")
    for level in range(4)
    for env in _envs(level)
    if env in _envs(level + 1)
]


def _lookup(inputs: dict, dotted: str):
    value = inputs
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _forcing_inputs(res) -> dict:
    kind = RESOURCE_KINDS[res.type]
    paths = (*kind.replace_on, *GENERIC_REPLACE_ON.get(res.type.split(":")[0], ()))
    return {path: _lookup(res.inputs, path) for path in paths if path != "*"}


@pytest.mark.parametrize(
    ("platform", "level", "env", "deployed"),
    CASES,
    ids=[f"{p}-{n}to{n + 1}-{e}{'-deployed' if d else ''}" for p, n, e, d in CASES],
)
def test_stateful_resources_survive_the_upgrade(platform, level, env, deployed):
    before, after = graph(level, env, platform, deployed), graph(level + 1, env, platform, deployed)
    after_by_urn = after.by_urn()
    stateful = [r for r in before.custom if r.type in RESOURCE_KINDS and RESOURCE_KINDS[r.type].stateful]
    assert stateful
    for res in stateful:
        assert res.urn in after_by_urn, f"{res.urn} would be deleted"
        upgraded = after_by_urn[res.urn]
        assert _forcing_inputs(upgraded) == _forcing_inputs(res), f"{res.urn} would be replaced"
        assert res.protect and upgraded.protect


@pytest.mark.parametrize("platform", ["sagemaker", "kubernetes"])
@pytest.mark.parametrize("level", range(4))
def test_upgrade_only_adds_resources(platform, level):
    before, after = graph(level, "dev", platform, True), graph(level + 1, "dev", platform, True)
    removed = {r.urn for r in before.custom} - {r.urn for r in after.custom}
    assert removed == set()
    assert len(after.custom) > len(before.custom)
