"""Environment isolation, as far as one stack shows it (DESIGN.md, "Environments are isolated").

Within one stack: no identity policy reaches across environments by wildcard, a bucket named by
pattern has its account pinned (S3 ARNs carry none), and another account gets in through a
resource policy only as named roles. The whole invariant — no role of one environment reaches
another's resources except through promotion — needs every environment's graph at once: it is
`mlops_bp.stacks.isolation`, run over all environments by the project's tests.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..graph import CapturedResource, ResourceGraph
from .core import Severity, Verdict, not_applicable, rule, verdict
from .iam import POLICY_DOCUMENTS, Kind, documents
from .values import as_list, statements

_IDENTITY = frozenset(t for t, (_, kind) in POLICY_DOCUMENTS.items() if kind is Kind.IDENTITY)
_RESOURCE_POLICIES = frozenset(t for t, (_, kind) in POLICY_DOCUMENTS.items() if kind in (Kind.RESOURCE, Kind.KEY))
_S3_PATTERN = re.compile(r"^arn:aws[a-z-]*:s3:::[^/]*[*?]")
_ACCOUNT = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}|\*):")


def _allowed_resources(statement: Mapping[str, Any]) -> list[str]:
    if statement.get("Effect") != "Allow":
        return []
    return [r for r in as_list(statement.get("Resource")) if isinstance(r, str)]


def _conditions(statement: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for block in (statement.get("Condition") or {}).values() for key, value in block.items()}


@rule(
    "MLOPS-ENV-001",
    "Buckets named by pattern in a policy have their account pinned",
    severity=Severity.HIGH,
    applies_to=_IDENTITY,
)
def buckets_by_pattern_pin_their_account(resource: CapturedResource, _graph: ResourceGraph) -> Verdict:
    problems = []
    for _, statement in documents(resource):
        patterns = [r for r in _allowed_resources(statement) if _S3_PATTERN.match(r)]
        if patterns and "s3:ResourceAccount" not in _conditions(statement):
            problems.append(
                f"statement {statement.get('Sid', '')!r} names buckets {patterns} by pattern without "
                "s3:ResourceAccount: a look-alike bucket in any account matches"
            )
    return verdict(problems)


@rule(
    "MLOPS-ENV-002",
    "No policy names resources by a wildcard spanning all environments",
    severity=Severity.HIGH,
    applies_to=_IDENTITY,
)
def no_wildcard_across_environments(resource: CapturedResource, graph: ResourceGraph) -> Verdict:
    # Every name of the project is <project>-<environment>-...: a wildcard right after the
    # project matches every environment's resources.
    spans = re.compile(rf"[/:]{re.escape(graph.project)}-?[*?]")
    problems = [
        f"statement {statement.get('Sid', '')!r} names {pattern!r}, which matches every environment"
        for _, statement in documents(resource)
        for pattern in _allowed_resources(statement)
        if spans.search(pattern)
    ]
    return verdict(problems)


def _principals(statement: Mapping[str, Any]) -> list[str]:
    principal = statement.get("Principal")
    if principal == "*":
        return ["*"]
    if isinstance(principal, Mapping):
        return [p for p in as_list(principal.get("AWS")) if isinstance(p, str)]
    return []


@rule(
    "MLOPS-ENV-003",
    "Resource policies let other accounts in only as named roles",
    severity=Severity.CRITICAL,
    applies_to=_RESOURCE_POLICIES,
)
def other_accounts_only_as_named_roles(resource: CapturedResource, _graph: ResourceGraph) -> Verdict:
    found = list(statements(resource.inputs.get(POLICY_DOCUMENTS[resource.type][0])))
    if not found:
        return not_applicable("no policy document")
    problems = []
    for statement in found:
        if statement.get("Effect") != "Allow":
            continue
        principals = _principals(statement)
        accounts = [(_ACCOUNT.match(p) or [None, None])[1] for p in principals]
        if "*" in principals or "*" in accounts:
            problems.append(f"statement {statement.get('Sid', '')!r} lets any account in")
            continue
        roots = [p for p in principals if p.endswith(":root")]
        # A key policy's administration statement (kms:* to its own account's root, which
        # MLOPS-KMS-002 guards) is how IAM policies get to use the key at all.
        administers_key = resource.type == "aws:kms/key:Key" and as_list(statement.get("Action")) == ["kms:*"]
        if roots and not administers_key and not any(key == "aws:PrincipalArn" for key in _conditions(statement)):
            problems.append(f"statement {statement.get('Sid', '')!r} lets all of {roots} in, not named roles")
    return verdict(problems)
