"""Environment isolation, checked over the captured graphs of every environment of a blueprint.

The invariant (DESIGN.md, "Environments are isolated"): a role of one environment reads or
writes another environment's resources only through the promotion path — the CI role of a
non-primary environment reading the primary's approved package, artifacts, key and image
(statements `PromoteFrom*`). Everything else stays inside its environment:

- identity policies: no Allow statement of environment A reaches a resource of environment B,
  judged by IAM's own matching (wildcards, `s3:ResourceAccount`, `kms:ResourceAliases`)
  against B's resources as its naming scheme names them, in B's account;
- resource policies: another account is let in only by a `PromotionReaders*` statement naming
  the CI roles of non-primary environments, never a wildcard account;
- CI trust: every environment's CI role trusts different subjects;
- Pulumi state: each CI role reaches its own stack's keys only.

Shared by SageMaker itself and not an environment's resource: the account-wide log groups of
training and processing jobs (/aws/sagemaker/TrainingJobs, ProcessingJobs), metric namespaces
and ecr:GetAuthorizationToken.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from mlops_bp.blueprints import Blueprint
from mlops_bp.blueprints.constants import ci_role_pattern

from .capture import MOCK_ACCOUNT_ID
from .graph import CapturedResource, ResourceGraph
from .rules.iam import POLICY_DOCUMENTS, UNSCOPED_ACTIONS, Kind
from .rules.values import as_list, statements

__all__ = ["Target", "isolation_problems", "statements_of", "targets_of"]

# The statements that are the promotion path (stacks/aws/sagemaker.py `_promotion_statements`).
PROMOTION_SIDS = "PromoteFrom"
READER_SIDS = "PromotionReaders"
_IDENTITY = {t: key for t, (key, kind) in POLICY_DOCUMENTS.items() if kind is Kind.IDENTITY}
_RESOURCE_POLICIES = {t: key for t, (key, kind) in POLICY_DOCUMENTS.items() if kind in (Kind.RESOURCE, Kind.KEY)}


@dataclass(frozen=True)
class Target:
    """A resource of one environment, as IAM would see it in a request."""

    arn: str
    account: str
    alias: str | None = None  # a KMS key's alias


def targets_of(blueprint: Blueprint, env: str, region: str | None = None) -> list[Target]:
    """Every resource of `env` a policy could name, by the naming scheme of the stacks."""
    environment = blueprint.environment(env)
    account = environment.account or MOCK_ACCOUNT_ID
    region = region or blueprint.region
    p = f"{blueprint.name}-{env}"

    def arn(service: str, resource: str) -> Target:
        return Target(f"arn:aws:{service}:{region}:{account}:{resource}", account)

    targets = [Target(f"arn:aws:kms:{region}:{account}:key/{p}-kms-key-id", account, alias=f"alias/{p}-kms")]
    for role in ("data", "artifacts"):
        bucket = f"arn:aws:s3:::{p}-{role}-0a1b2c3"
        targets += [Target(bucket, account)] + [
            Target(f"{bucket}/{key}", account)
            for key in ("datasets/train.csv", "promoted/m/1/model.tar.gz", "run-1/model.tar.gz", "data-capture/x")
        ]
    targets += [
        arn("ecr", f"repository/{p}"),
        arn("sagemaker", f"model-package-group/{p}-models"),
        arn("sagemaker", f"model-package/{p}-models/1"),
        arn("sagemaker", f"pipeline/{p}-training"),
        arn("sagemaker", f"pipeline/{p}-training/execution/x"),
        arn("sagemaker", f"endpoint/{p}-endpoint"),
        arn("sagemaker", f"endpoint-config/{p}-serving-config-0a1b2c3"),
        arn("sagemaker", f"model/{p}-serving-model-0a1b2c3"),
        arn("sagemaker", f"notebook-instance/{p}-notebook"),
        arn("logs", f"log-group:/aws/sagemaker/Endpoints/{p}-endpoint"),
        arn("logs", f"log-group:/aws/sagemaker/Endpoints/{p}-endpoint:*"),
        arn("events", f"api-destination/{p}-approved-dispatch/x"),
        arn("sns", f"{p}-alarms"),
        arn("eks", f"cluster/{p}-cluster"),
        *(
            Target(f"arn:aws:iam::{account}:role/{p}-{role}-role-0a1b2c3", account)
            for role in ("serving", "training", "monitor", "ci", "data-scientist", "retrain", "scheduler")
        ),
    ]
    if blueprint.state_bucket:
        state = f"arn:aws:s3:::{blueprint.state_bucket}/.pulumi"
        targets += [
            Target(f"{state}/stacks/{blueprint.name}/{env}.json", account),
            Target(f"{state}/history/{blueprint.name}/{env}/x.history.json", account),
            Target(f"{state}/backups/{blueprint.name}/{env}/x.json", account),
            Target(f"{state}/locks/organization/{blueprint.name}/{env}/x.json", account),
        ]
    return targets


def statements_of(graph: ResourceGraph) -> Iterator[tuple[CapturedResource, Mapping[str, Any]]]:
    """Every identity-policy statement of the graph, with the resource holding it."""
    for resource in graph.custom:
        key = _IDENTITY.get(resource.type)
        if key is not None:
            for statement in statements(resource.inputs.get(key)):
                yield resource, statement


def _condition_allows(statement: Mapping[str, Any], target: Target) -> bool:
    """The conditions the stacks use to scope resources, evaluated for `target`."""
    for operator, pairs in (statement.get("Condition") or {}).items():
        for key, expected in pairs.items():
            values = as_list(expected)
            if key == "s3:ResourceAccount" and operator == "StringEquals" and target.account not in values:
                return False
            if key == "kms:ResourceAliases" and (target.alias is None or target.alias not in values):
                return False
    return True


def reaches(statement: Mapping[str, Any], target: Target) -> bool:
    """Would IAM let this Allow statement act on `target` (by Resource and condition)?"""
    if statement.get("Effect") != "Allow":
        return False
    if "NotResource" in statement:
        return True
    if set(as_list(statement.get("Action", []))) <= UNSCOPED_ACTIONS:
        return False
    patterns = [str(r) for r in as_list(statement.get("Resource", []))]
    matched = any(fnmatch.fnmatchcase(target.arn, pattern) for pattern in patterns)
    return matched and _condition_allows(statement, target)


def isolation_problems(blueprint: Blueprint, graphs: Mapping[str, ResourceGraph]) -> list[str]:
    """Every way one environment's roles or resource policies reach another's, outside the
    promotion path. `graphs`: the captured graph of each environment, by name."""
    primary = blueprint.primary_environment.name
    problems: list[str] = []
    for env, graph in graphs.items():
        for other in graphs:
            if other == env:
                continue
            for resource, statement in statements_of(graph):
                sid = str(statement.get("Sid", ""))
                promotion = sid.startswith(PROMOTION_SIDS) and env != primary and other == primary
                for target in targets_of(blueprint, other):
                    if reaches(statement, target) and not (promotion and "-ci-" in resource.name):
                        problems.append(f"{env}: {resource.name} {sid or '(no Sid)'} reaches {other}'s {target.arn}")
                        break
        problems += _resource_policy_problems(blueprint, env, graph)
    problems += _trust_problems(graphs)
    problems += _look_alike_problems(blueprint, graphs)
    return problems


# An account no environment of the blueprint uses: its resources may carry the same names.
FOREIGN_ACCOUNT = "999999999999"


def _look_alike_problems(blueprint: Blueprint, graphs: Mapping[str, ResourceGraph]) -> list[str]:
    """S3 bucket ARNs carry no account: a statement naming another environment's bucket by
    pattern must pin its account, or a look-alike bucket in any account matches too."""
    problems = []
    for env, graph in graphs.items():
        for resource, statement in statements_of(graph):
            for other in graphs:
                if other == env:
                    continue
                look_alikes = [
                    Target(t.arn, FOREIGN_ACCOUNT)
                    for t in targets_of(blueprint, other)
                    if t.arn.startswith("arn:aws:s3:::")
                ]
                if any(reaches(statement, t) for t in look_alikes):
                    sid = statement.get("Sid", "(no Sid)")
                    problems.append(f"{env}: {resource.name} {sid} reaches buckets named like {other}'s in any account")
                    break
    return problems


def _resource_policy_problems(blueprint: Blueprint, env: str, graph: ResourceGraph) -> list[str]:
    own = blueprint.environment(env).account or MOCK_ACCOUNT_ID
    readers = {
        f"arn:aws:iam::{e.account}:role/{ci_role_pattern(blueprint.name, e.name)}"
        for e in blueprint.environments[1:]
        if e.account and e.account != own
    }
    problems = []
    for resource in graph.custom:
        key = _RESOURCE_POLICIES.get(resource.type)
        if key is None:
            continue
        for statement in statements(resource.inputs.get(key)):
            principal = statement.get("Principal")
            if statement.get("Effect") != "Allow" or not isinstance(principal, dict) or "AWS" not in principal:
                continue
            foreign = [p for p in as_list(principal["AWS"]) if f"::{own}:" not in str(p)]
            if not foreign:
                continue
            named = set(as_list((statement.get("Condition") or {}).get("ArnLike", {}).get("aws:PrincipalArn", [])))
            if not str(statement.get("Sid", "")).startswith(READER_SIDS) or not named or not named <= readers:
                problems.append(
                    f"{env}: {resource.name} lets {foreign} in, not only promotion readers {sorted(readers)}"
                )
            if any("*" in str(p).split(":")[4] for p in foreign):
                problems.append(f"{env}: {resource.name} names a wildcard account")
    return problems


def _trust_problems(graphs: Mapping[str, ResourceGraph]) -> list[str]:
    """Every environment's CI deploy role trusts different subjects."""
    seen: dict[str, str] = {}
    problems = []
    for env, graph in graphs.items():
        for role in graph.of_type("aws:iam/role:Role"):
            if not role.name.endswith("-ci-role"):
                continue
            for statement in statements(role.inputs.get("assumeRolePolicy")):
                condition = json.dumps(statement.get("Condition"), sort_keys=True)
                if condition in seen:
                    problems.append(f"{env}: the CI role trusts the same subjects as {seen[condition]}'s")
                seen[condition] = env
    return problems
