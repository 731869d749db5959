"""IAM: least privilege in every policy document, guarded trust (service principals, OIDC)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from enum import StrEnum
from fnmatch import fnmatchcase
from typing import Any

from ..graph import CapturedResource, ResourceGraph
from .core import Severity, Verdict, not_applicable, rule, verdict
from .values import as_list, get, statements


class Kind(StrEnum):
    """What a policy document governs, which decides what it may contain."""

    IDENTITY = "identity"  # what a role (user, group) may do
    TRUST = "trust"  # who may assume a role
    RESOURCE = "resource"  # who may use a bucket, topic, repository
    KEY = "key"  # a KMS key policy: Resource "*" means "this key"


# resource type -> (input holding the document, kind)
POLICY_DOCUMENTS: dict[str, tuple[str, Kind]] = {
    "aws:iam/rolePolicy:RolePolicy": ("policy", Kind.IDENTITY),
    "aws:iam/policy:Policy": ("policy", Kind.IDENTITY),
    "aws:iam/userPolicy:UserPolicy": ("policy", Kind.IDENTITY),
    "aws:iam/groupPolicy:GroupPolicy": ("policy", Kind.IDENTITY),
    "aws:iam/role:Role": ("assumeRolePolicy", Kind.TRUST),
    "aws:s3/bucketPolicy:BucketPolicy": ("policy", Kind.RESOURCE),
    "aws:sns/topicPolicy:TopicPolicy": ("policy", Kind.RESOURCE),
    "aws:ecr/repositoryPolicy:RepositoryPolicy": ("policy", Kind.RESOURCE),
    "aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy": ("resourcePolicy", Kind.RESOURCE),
    "aws:kms/key:Key": ("policy", Kind.KEY),
}
ROLE = "aws:iam/role:Role"
IDENTITY_TYPES = frozenset({ROLE, *(t for t, (_, kind) in POLICY_DOCUMENTS.items() if kind is Kind.IDENTITY)})
# Actions AWS does not scope to a resource: the only ones an identity policy may allow on "*".
UNSCOPED_ACTIONS = frozenset({"ecr:GetAuthorizationToken", "cloudwatch:PutMetricData", "sts:GetCallerIdentity"})
# EC2 assumes an instance profile's role for the account's own instances (iam:PassRole guards
# who attaches it) and sends no source context to condition on.
UNGUARDABLE_SERVICES = frozenset({"ec2.amazonaws.com"})
OIDC_AUDIENCE = "sts.amazonaws.com"


def documents(resource: CapturedResource) -> Iterator[tuple[Kind, Mapping[str, Any]]]:
    """(kind, statement) of every policy document a resource holds (a role: its trust policy
    and its inline policies)."""
    key, kind = POLICY_DOCUMENTS[resource.type]
    for statement in statements(resource.inputs.get(key)):
        yield kind, statement
    if resource.type == ROLE:
        for inline in as_list(resource.inputs.get("inlinePolicies")):
            for statement in statements(get(inline, "policy")):
                yield Kind.IDENTITY, statement


def _allowed_actions(statement: Mapping[str, Any]) -> list[str]:
    if statement.get("Effect") != "Allow":
        return []
    return [a for a in as_list(statement.get("Action")) if isinstance(a, str)]


def _label(statement: Mapping[str, Any]) -> str:
    return f"statement {statement['Sid']!r}" if statement.get("Sid") else "a statement"


@rule(
    "MLOPS-IAM-001",
    "No policy statement allows Action '*' or uses NotAction/NotResource",
    severity=Severity.CRITICAL,
    applies_to=POLICY_DOCUMENTS,
)
def no_wildcard_action(resource: CapturedResource, _graph: ResourceGraph) -> Verdict:
    problems = []
    for _, statement in documents(resource):
        if "*" in as_list(statement.get("Action")):
            problems.append(f"{_label(statement)} has Action '*'")
        problems += [f"{_label(statement)} uses {key}" for key in ("NotAction", "NotResource") if key in statement]
    return verdict(problems)


@rule(
    "MLOPS-IAM-002",
    "Identity policies allow no service-wide action ('service:*')",
    severity=Severity.HIGH,
    applies_to=IDENTITY_TYPES,
)
def no_service_wide_action(resource: CapturedResource, _graph: ResourceGraph) -> Verdict:
    return verdict(
        f"{_label(statement)} allows {action}"
        for kind, statement in documents(resource)
        if kind is Kind.IDENTITY
        for action in _allowed_actions(statement)
        if action.endswith(":*")
    )


@rule(
    "MLOPS-IAM-003",
    "Identity policies allow Resource '*' only for actions AWS cannot scope",
    severity=Severity.HIGH,
    applies_to=IDENTITY_TYPES,
)
def resource_star_only_where_required(resource: CapturedResource, _graph: ResourceGraph) -> Verdict:
    problems = []
    for kind, statement in documents(resource):
        if kind is Kind.IDENTITY and "*" in as_list(statement.get("Resource")):
            scoped = sorted(set(_allowed_actions(statement)) - UNSCOPED_ACTIONS)
            if scoped:
                problems.append(f"{_label(statement)} allows {', '.join(scoped)} on Resource '*'")
    return verdict(problems)


@rule(
    "MLOPS-IAM-004",
    "Roles trusted by AWS services are guarded against confused deputies",
    severity=Severity.HIGH,
    applies_to={ROLE},
)
def service_trust_guarded(role: CapturedResource, _graph: ResourceGraph) -> Verdict:
    trusted = [
        s
        for kind, s in documents(role)
        if kind is Kind.TRUST and set(as_list(get(s, "Principal", "Service"))) - UNGUARDABLE_SERVICES
    ]
    if not trusted:
        return not_applicable("no AWS service is trusted")
    problems = []
    for statement in trusted:
        keys = {
            key for condition in as_list(statement.get("Condition")) for block in condition.values() for key in block
        }
        if not {"aws:SourceAccount", "aws:SourceArn"} & keys:
            problems.append(f"{_label(statement)} trusts a service without aws:SourceAccount or aws:SourceArn")
    return verdict(problems)


def _passes_role(actions: list[str]) -> bool:
    return any(fnmatchcase("iam:PassRole", action) for action in actions)


@rule(
    "MLOPS-IAM-005",
    "iam:PassRole names the roles and the service they are passed to",
    severity=Severity.HIGH,
    applies_to=IDENTITY_TYPES,
)
def pass_role_scoped(resource: CapturedResource, _graph: ResourceGraph) -> Verdict:
    passing = [s for kind, s in documents(resource) if kind is Kind.IDENTITY and _passes_role(_allowed_actions(s))]
    if not passing:
        return not_applicable("passes no role")
    problems = []
    for statement in passing:
        if "*" in as_list(statement.get("Resource")):
            problems.append(f"{_label(statement)} passes any role (Resource '*')")
        services = [get(statement, "Condition", op, "iam:PassedToService") for op in ("StringEquals", "StringLike")]
        if not any(services):
            problems.append(f"{_label(statement)} passes roles without an iam:PassedToService condition")
    return verdict(problems)


def _pinned_subject(subject: Any) -> bool:
    """A `sub` claim that names one repository (service account): wildcards only in a ref name."""
    return isinstance(subject, str) and bool(subject) and not {"*", "?"} & set(subject.split(":ref")[0])


@rule(
    "MLOPS-IAM-006",
    "OIDC trust pins the audience and the subject (repository, service account)",
    severity=Severity.CRITICAL,
    applies_to={ROLE},
)
def oidc_trust_pinned(role: CapturedResource, _graph: ResourceGraph) -> Verdict:
    problems, federated = [], False
    for kind, statement in documents(role):
        providers = [p for p in as_list(get(statement, "Principal", "Federated")) if ":oidc-provider/" in str(p)]
        if kind is not Kind.TRUST or statement.get("Effect") != "Allow" or not providers:
            continue
        federated = True
        for provider in providers:
            host = str(provider).split(":oidc-provider/", 1)[1]
            audiences = as_list(get(statement, "Condition", "StringEquals", f"{host}:aud"))
            if not audiences or any(a != OIDC_AUDIENCE for a in audiences):
                problems.append(f"{_label(statement)}: {host}:aud must equal {OIDC_AUDIENCE} (got {audiences})")
            subjects = [
                s
                for op in ("StringEquals", "StringLike")
                for s in as_list(get(statement, "Condition", op, f"{host}:sub"))
            ]
            if not subjects or not all(_pinned_subject(s) for s in subjects):
                problems.append(f"{_label(statement)}: {host}:sub must name one subject (got {subjects})")
    if not federated:
        return not_applicable("no OIDC trust")
    return verdict(problems)
