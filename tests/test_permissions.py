"""Doctor's permission list is derived from the plans: every AWS type any plan declares has its
create actions in stacks/permissions.py, and the list follows what a blueprint declares."""

from __future__ import annotations

import warnings

import pytest

from mlops_bp.stacks.permissions import CREATE_ACTIONS, required_actions

from .graphs import graph, overrides

CROSS = overrides(
    environments=[{"name": "dev", "account": "111111111111"}, {"name": "prod", "account": "333333333333"}]
)
CLUSTER = overrides(
    kubernetes={"cluster": {"create": True, "subnet_ids": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]}}
)


def _graphs():
    for platform, extra in (("sagemaker", {}), ("sagemaker", CROSS), ("kubernetes", CLUSTER)):
        for level in range(5):
            envs = ("dev", "prod") if extra is CROSS or level >= 3 else ("dev",)
            for env in envs:
                for deployed in (False, True):
                    yield graph(level, env, platform, deployed, **extra)


def test_every_aws_type_a_plan_declares_has_create_actions():
    required_actions(_graphs())  # raises naming the types without an entry


def test_a_type_without_an_entry_is_named():
    g = graph(1)
    renamed = type(g)(g.project, g.stack, [type(r)(**{**r.__dict__, "type": "aws:foo/bar:Bar"}) for r in g.custom[:1]])
    with pytest.raises(KeyError, match="no create actions for aws:foo/bar:Bar"):
        required_actions([renamed])


def test_every_action_is_an_iam_action():
    """Each action exists in IAM's service authorization data (parliament's copy), which also
    proves the check itself by refusing a made-up one."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # parliament imports pkg_resources
        from parliament import expand_action

    unknown = []
    for action in sorted({a for actions in CREATE_ACTIONS.values() for a in actions}):
        try:
            expand_action(action)
        except Exception:  # noqa: BLE001 - parliament raises a bare Exception for unknown actions
            unknown.append(action)
    assert unknown == []
    with pytest.raises(Exception, match="NoSuchAction"):
        expand_action("s3:NoSuchAction")
