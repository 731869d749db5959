"""Environments can't touch each other: over every level × platform × CI system, in one account
and with one account per environment, no role of one environment reaches another's resources
except through the promotion path; resource policies let in only the promotion readers; CI
trust differs per environment; each CI role uses only its own stack's state. Mutated graphs
prove the checker sees each kind of breach."""

from __future__ import annotations

import dataclasses
import json
from functools import cache

import pytest

from mlops_bp.blueprints import Blueprint, blueprint_from_data
from mlops_bp.stacks.graph import ResourceGraph
from mlops_bp.stacks.isolation import isolation_problems
from mlops_bp.stacks.plan import deployed, plan

ACCOUNTS = {"dev": "111111111111", "staging": "222222222222", "prod": "333333333333"}
STATE = "acme-pulumi-state"
CLUSTER = {"cluster": {"create": True, "subnet_ids": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]}}


@cache
def _blueprint(platform: str, level: int, ci: str | None, cross_account: bool) -> Blueprint:
    data: dict = {"name": "shop", "level": level, "platform": platform, "state_bucket": STATE}
    if ci:
        data[ci] = "acme/shop"
    if platform == "kubernetes":
        data["kubernetes"] = CLUSTER
    data["environments"] = [
        {"name": name, **({"account": ACCOUNTS[name]} if cross_account else {})} for name in ACCOUNTS
    ]
    return blueprint_from_data(data, "test")


@cache
def _graphs(platform: str, level: int, ci: str | None, cross_account: bool) -> dict[str, ResourceGraph]:
    blueprint = _blueprint(platform, level, ci, cross_account)
    return {e.name: plan(blueprint, e.name, deployed(blueprint, e.name)) for e in blueprint.environments}


CASES = [
    (platform, level, ci, cross)
    for platform in ("sagemaker", "kubernetes")
    for level in (1, 2, 3, 4)
    for ci in ("github", "gitlab", None)
    for cross in (False, True)
    if not (platform == "kubernetes" and ci is None)
]


@pytest.mark.parametrize(("platform", "level", "ci", "cross_account"), CASES)
def test_no_environment_reaches_another_except_by_promotion(platform, level, ci, cross_account):
    problems = isolation_problems(
        _blueprint(platform, level, ci, cross_account), _graphs(platform, level, ci, cross_account)
    )
    assert problems == []


def _replace_policy(graph: ResourceGraph, name: str, key: str, edit) -> ResourceGraph:
    """A copy of `graph` whose resource `name` has its policy document `key` edited."""
    resources = []
    for resource in graph.resources:
        if resource.name == name:
            document = json.loads(resource.inputs[key])
            edit(document["Statement"])
            resource = dataclasses.replace(resource, inputs={**resource.inputs, key: json.dumps(document)})
        resources.append(resource)
    return dataclasses.replace(graph, resources=resources)


def _mutated(case: tuple, env: str, name: str, edit, key: str = "policy") -> list[str]:
    graphs = dict(_graphs(*case))
    graphs[env] = _replace_policy(graphs[env], name, key, edit)
    return isolation_problems(_blueprint(*case), graphs)


SAME = ("sagemaker", 4, "github", False)
CROSS = ("sagemaker", 4, "github", True)


def test_prod_serving_reading_the_dev_registry_is_caught():
    """The old design: prod's serving role read the primary's artifacts by bucket prefix."""
    statement = {
        "Sid": "RegistryArtifactsRead",
        "Effect": "Allow",
        "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::shop-dev-artifacts-*/*",
    }
    problems = _mutated(SAME, "prod", "shop-prod-serving-policy", lambda s: s.append(statement))
    assert any("prod: shop-prod-serving-policy RegistryArtifactsRead reaches dev's" in p for p in problems)
    assert any("reaches buckets named like dev's in any account" in p for p in problems)


def test_a_promotion_read_without_the_account_pin_is_caught():
    def unpin(statements):
        for s in statements:
            if s["Sid"] == "PromoteFromArtifacts":
                del s["Condition"]

    problems = _mutated(CROSS, "staging", "shop-staging-ci-policy", unpin)
    assert problems == [
        "staging: shop-staging-ci-policy PromoteFromArtifacts reaches buckets named like dev's in any account"
    ]


def test_promotion_statements_outside_a_ci_role_are_caught():
    statement = {
        "Sid": "PromoteFromArtifacts",
        "Effect": "Allow",
        "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::shop-dev-artifacts-*/*",
        "Condition": {"StringEquals": {"s3:ResourceAccount": ACCOUNTS["dev"]}},
    }
    problems = _mutated(CROSS, "prod", "shop-prod-serving-policy", lambda s: s.append(statement))
    assert any("shop-prod-serving-policy PromoteFromArtifacts reaches dev's" in p for p in problems)


def test_the_primary_reaching_into_a_target_is_caught():
    statement = {
        "Sid": "PromoteFromEverything",
        "Effect": "Allow",
        "Action": "sagemaker:CreateModelPackage",
        "Resource": "arn:aws:sagemaker:us-east-1:*:model-package/shop-*",
    }
    problems = _mutated(SAME, "dev", "shop-dev-ci-policy", lambda s: s.append(statement))
    assert any(p.startswith("dev: shop-dev-ci-policy PromoteFromEverything reaches staging's") for p in problems)


def test_state_of_another_stack_is_caught():
    statement = {"Sid": "AllState", "Effect": "Allow", "Action": "s3:*", "Resource": f"arn:aws:s3:::{STATE}/.pulumi/*"}
    problems = _mutated(SAME, "staging", "shop-staging-ci-policy", lambda s: s.append(statement))
    assert any("AllState reaches dev's" in p and "/.pulumi/" in p for p in problems)


def test_a_resource_policy_letting_in_anyone_else_is_caught():
    statement = {
        "Sid": "Oops",
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::444444444444:root"},
        "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::x/*",
    }
    graphs = dict(_graphs(*CROSS))
    policy = next(r for r in graphs["dev"].of_type("aws:s3/bucketPolicy:BucketPolicy") if "artifacts" in r.name)
    graphs["dev"] = _replace_policy(graphs["dev"], policy.name, "policy", lambda s: s.append(statement))
    problems = isolation_problems(_blueprint(*CROSS), graphs)
    assert problems == [
        f"dev: {policy.name} lets ['arn:aws:iam::444444444444:root'] in, not only promotion readers "
        "['arn:aws:iam::222222222222:role/shop-staging-ci-role-*', "
        "'arn:aws:iam::333333333333:role/shop-prod-ci-role-*']"
    ]


def test_the_same_trust_in_two_environments_is_caught():
    prod = _graphs(*SAME)["prod"]
    role = prod.one("aws:iam/role:Role", "shop-prod-ci-role")
    prod_trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"]

    def like_prod(statements):
        statements[:] = prod_trust

    problems = _mutated(SAME, "staging", "shop-staging-ci-role", like_prod, key="assumeRolePolicy")
    assert any("trusts the same subjects" in p for p in problems)


def test_cross_account_readers_are_exactly_the_other_environments_ci_roles():
    dev = _graphs(*CROSS)["dev"]
    key = json.loads(dev.one("aws:kms/key:Key").inputs["policy"])["Statement"]
    (readers,) = [s for s in key if s["Sid"] == "PromotionReadersDecrypt"]
    assert readers["Principal"] == {"AWS": ["arn:aws:iam::222222222222:root", "arn:aws:iam::333333333333:root"]}
    assert readers["Condition"] == {
        "ArnLike": {
            "aws:PrincipalArn": [
                "arn:aws:iam::222222222222:role/shop-staging-ci-role-*",
                "arn:aws:iam::333333333333:role/shop-prod-ci-role-*",
            ]
        }
    }
    assert set(readers["Action"]) == {"kms:Decrypt", "kms:DescribeKey"}
    repository_policy = json.loads(dev.one("aws:ecr/repositoryPolicy:RepositoryPolicy").inputs["policy"])
    assert [s["Sid"] for s in repository_policy["Statement"]] == ["PromotionReadersPull"]
    group_policy = dev.one("aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy").inputs
    (describe,) = json.loads(group_policy["resourcePolicy"])["Statement"]
    assert describe["Sid"] == "PromotionReadersDescribe" and describe["Condition"] == readers["Condition"]
    assert describe["Resource"][1] == "arn:aws:sagemaker:us-east-1:111111111111:model-package/shop-dev-models/*"
    bucket = next(r for r in dev.of_type("aws:s3/bucketPolicy:BucketPolicy") if "artifacts" in r.name)
    sids = [s["Sid"] for s in json.loads(bucket.inputs["policy"])["Statement"]]
    assert sids == ["DenyInsecureTransport", "PromotionReadersList", "PromotionReadersGet"]
    # In one account, IAM policies are enough: no resource policy lets anyone in.
    same = _graphs(*SAME)["dev"]
    assert "aws:ecr/repositoryPolicy:RepositoryPolicy" not in same.types()
    # Targets' own resources name no reader: nothing is promoted out of them.
    assert "aws:ecr/repositoryPolicy:RepositoryPolicy" not in _graphs(*CROSS)["prod"].types()


def test_each_environment_names_its_account_to_the_provider():
    for env, graph in _graphs(*CROSS).items():
        provider = graph.one("pulumi:providers:aws")
        assert json.loads(provider.inputs["allowedAccountIds"]) == [ACCOUNTS[env]]
    assert "allowedAccountIds" not in _graphs(*SAME)["prod"].one("pulumi:providers:aws").inputs


def test_every_account_gets_its_own_oidc_provider():
    for env, graph in _graphs(*CROSS).items():
        assert "aws:iam/openIdConnectProvider:OpenIdConnectProvider" in graph.types(), env
    same = _graphs(*SAME)
    assert ["aws:iam/openIdConnectProvider:OpenIdConnectProvider" in g.types() for g in same.values()] == [
        True,
        False,
        False,
    ]


def test_the_preview_role_reads_its_stack_state_only():
    dev = _graphs(*SAME)["dev"]
    role = dev.one("aws:iam/role:Role", "shop-dev-ci-preview-role")
    (trust,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust["Condition"]["StringLike"] == {
        "token.actions.githubusercontent.com:sub": ["repo:acme/shop:pull_request"]
    }
    statements = json.loads(dev.one("aws:iam/rolePolicy:RolePolicy", "shop-dev-ci-preview-policy").inputs["policy"])
    writes = {
        action
        for s in statements["Statement"]
        for action in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
        if action.startswith("s3:Put") or action.startswith("s3:Delete")
    }
    assert writes == {"s3:PutObject", "s3:DeleteObject"}  # the lock a preview takes, nothing else
    lock = next(s for s in statements["Statement"] if s["Sid"] == "PulumiStateLock")
    assert lock["Resource"] == f"arn:aws:s3:::{STATE}/.pulumi/locks/organization/shop/dev/*"
    assert dev.outputs["ci_preview_role_arn"].endswith("shop-dev-ci-preview-role")
    for env in ("staging", "prod"):
        assert "ci_preview_role_arn" not in _graphs(*SAME)[env].outputs
