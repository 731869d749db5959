"""The upgrade invariant on the real captured stacks: level N -> N+1 only adds and updates in
place; a stateful resource is never replaced or deleted. Downgrades name their deletions."""

from __future__ import annotations

import pytest

from mlops_bp.stacks.context import StackContext
from mlops_bp.stacks.diff import Action, diff_blueprints, diff_graphs, kind_of
from mlops_bp.stacks.rules import RULES

from .conftest import make_blueprint
from .graphs import graph

PLATFORMS = ("sagemaker", "kubernetes")


def _envs(level: int) -> list[str]:
    return [e.name for e in make_blueprint(level).environments]


@pytest.mark.parametrize("deployed", [False, True], ids=["day-one", "deployed"])
@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("level", range(4))
def test_next_level_never_replaces_or_deletes_stateful_resources(platform, level, deployed):
    # The same comparison as diff_blueprints, on the graphs the stack tests already captured:
    # on a fresh account and once serving (the same deploy pinned at both levels).
    assert set(_envs(level)) <= set(_envs(level + 1))
    diffs = [
        diff_graphs(
            graph(level, env, platform, deployed) if env in _envs(level) else None,
            graph(level + 1, env, platform, deployed),
        )
        for env in _envs(level + 1)
    ]
    for diff in diffs:
        assert diff.destroys_data == [], [c.urn for c in diff.destroys_data]
        assert diff.of(Action.DELETE) == [], [c.urn for c in diff.of(Action.DELETE)]
        stateful_touched = [c.urn for c in diff.changes if c.stateful and c.action is not Action.CREATE]
        assert [c for c in diff.changes if c.stateful and c.action is Action.REPLACE] == [], stateful_touched
    # On day one, level 4 adds nothing yet: everything it brings watches or scales an endpoint.
    if deployed or level < 3:
        assert any(d.of(Action.CREATE) for d in diffs), "every level adds something"


# The data holders DESIGN.md says are `protect`ed: the types the rule pack's protection rule
# applies to (the diff's stateful types).
PROTECTED_TYPES = RULES["MLOPS-STATE-001"].applies_to


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("level", range(5))
def test_stateful_resources_are_protected(platform, level):
    blueprint = make_blueprint(level, platform)
    holders = [r for r in graph(level, blueprint.environments[-1].name, platform).custom if r.type in PROTECTED_TYPES]
    assert holders, "every level has data to keep"
    assert all(kind_of(r.type).stateful for r in holders)
    assert [r.urn for r in holders if not r.protect] == []


def test_level_three_adds_staging_and_prod_as_new_stacks():
    diffs = {d.stack: d for d in diff_blueprints(make_blueprint(2), make_blueprint(3))}
    assert diffs["dev"].status == "existing"
    for env in ("staging", "prod"):
        assert diffs[env].status == "new"
        assert {c.action for c in diffs[env].changes} == {Action.CREATE}


def test_downgrade_names_every_deleted_resource():
    diffs = {d.stack: d for d in diff_blueprints(make_blueprint(3), make_blueprint(2))}
    prod = diffs["prod"]
    assert prod.status == "dropped"
    assert {c.action for c in prod.changes} == {Action.DELETE}
    declared = [r for r in graph(3, "prod") if not r.is_component]
    assert sorted(c.urn for c in prod.of(Action.DELETE)) == sorted(r.urn for r in declared)
    assert {c.type for c in prod.destroys_data} >= {"aws:s3/bucket:Bucket", "aws:kms/key:Key"}


def test_one_environment_only():
    [diff] = diff_blueprints(make_blueprint(2), make_blueprint(3), "prod")
    assert diff.stack == "prod"


def _rename_data_bucket_from_level_2(monkeypatch, *, logical: bool) -> None:
    """A deliberately breaking change: from level 2 the data bucket gets another logical name
    (a new URN) or another physical name prefix."""
    original_name, original_prefix = StackContext.name, StackContext.bucket_prefix

    def late(ctx: StackContext) -> bool:
        return int(ctx.tags["mlops-bp:level"]) >= 2

    def name(ctx: StackContext, role: str) -> str:
        return original_name(ctx, "datalake" if role == "data" and logical and late(ctx) else role)

    def bucket_prefix(ctx: StackContext, role: str) -> str:
        return original_prefix(ctx, "lake" if role == "data" and not logical and late(ctx) else role)

    monkeypatch.setattr(StackContext, "name", name)
    monkeypatch.setattr(StackContext, "bucket_prefix", bucket_prefix)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_renamed_bucket_resource_is_caught(monkeypatch, platform):
    _rename_data_bucket_from_level_2(monkeypatch, logical=True)
    [diff] = diff_blueprints(make_blueprint(1, platform), make_blueprint(2, platform))
    lost = diff.destroys_data
    assert [(c.action, c.type) for c in lost] == [(Action.DELETE, "aws:s3/bucket:Bucket")]
    assert lost[0].name == "fraud-detect-dev-data-bucket"


def test_renamed_bucket_prefix_is_caught_as_replacement(monkeypatch):
    _rename_data_bucket_from_level_2(monkeypatch, logical=False)
    [diff] = diff_blueprints(make_blueprint(1), make_blueprint(2))
    [lost] = diff.destroys_data
    assert lost.action is Action.REPLACE
    assert lost.reason == "changes bucketPrefix"
