"""What a rule is, the registry that holds the pack, and running it over a captured graph.

A rule is data plus one small pure function (cdk-nag's `NagRules`): an id, a one-line
description, a severity, the resource types it applies to, and a check that looks at one
resource of those types and says compliant, non-compliant or not applicable, with a reason.
Most checks read only their resource; the few that need its neighbours (a bucket's encryption
configuration, a namespace's network policies) declare `reads_graph` and get the whole graph.

Checks read resource inputs as Pulumi's engine names them (camelCase, as the plan captures
them), and only through `Mapping`/`Sequence`, so the same check runs on a captured graph and on
what a Pulumi policy pack receives (`pulumi_policy.py`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from mlops_bp.blueprints.models import RULE_IDS

from ..graph import CapturedResource, ResourceGraph

__all__ = [
    "RULES",
    "Check",
    "Finding",
    "Report",
    "Rule",
    "RuleResult",
    "Severity",
    "Status",
    "Verdict",
    "check_graph",
    "compliant",
    "not_applicable",
    "pack",
    "rule",
    "verdict",
    "violation",
]


class Status(StrEnum):
    COMPLIANT = "compliant"
    NON_COMPLIANT = "non-compliant"
    NOT_APPLICABLE = "not-applicable"


class Severity(StrEnum):
    """How bad a violation is (the values are pulumi_policy's `Severity`)."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


@dataclass(frozen=True)
class Verdict:
    status: Status
    reason: str = ""


def compliant(reason: str = "") -> Verdict:
    return Verdict(Status.COMPLIANT, reason)


def violation(reason: str) -> Verdict:
    return Verdict(Status.NON_COMPLIANT, reason)


def not_applicable(reason: str) -> Verdict:
    return Verdict(Status.NOT_APPLICABLE, reason)


def verdict(problems: Iterable[str]) -> Verdict:
    """Compliant when there is no problem, else non-compliant naming every problem."""
    found = list(dict.fromkeys(problems))
    return violation("; ".join(found)) if found else compliant()


# check(resource, graph): `graph` is the whole stack for rules that read it, else a graph
# holding only `resource`.
Check = Callable[[CapturedResource, ResourceGraph], Verdict]


@dataclass(frozen=True)
class Rule:
    id: str
    description: str
    severity: Severity
    applies_to: frozenset[str]
    check: Check = field(repr=False, compare=False)
    reads_graph: bool = False

    def applies(self, resource: CapturedResource) -> bool:
        return resource.type in self.applies_to

    def evaluate(self, resource: CapturedResource, graph: ResourceGraph) -> Verdict:
        if not self.applies(resource):
            return not_applicable(f"applies to {', '.join(sorted(self.applies_to))}")
        return self.check(resource, graph)


# The pack: rule id -> Rule, filled by the @rule registrations of the rule modules.
RULES: dict[str, Rule] = {}


def rule(
    rule_id: str, description: str, *, severity: Severity, applies_to: Iterable[str], reads_graph: bool = False
) -> Callable[[Check], Check]:
    """Register the decorated check as rule `rule_id` of the pack.

    A blueprint names rules by id (`rules.advisory`), so the id must also be listed in
    `mlops_bp.blueprints.models.RULE_IDS`, which the spec validates against.
    """

    def register(check: Check) -> Check:
        if rule_id in RULES:
            raise ValueError(f"rule {rule_id} is registered twice")
        if rule_id not in RULE_IDS:
            raise ValueError(f"rule {rule_id}: add it to mlops_bp.blueprints.models.RULE_IDS")
        RULES[rule_id] = Rule(rule_id, description, severity, frozenset(applies_to), check, reads_graph)
        return check

    return register


def pack() -> list[Rule]:
    """Every registered rule, in the order of `RULE_IDS` (by area)."""
    return [RULES[rule_id] for rule_id in RULE_IDS if rule_id in RULES]


@dataclass(frozen=True)
class Finding:
    """One rule's verdict on one resource."""

    rule_id: str
    urn: str
    name: str
    type: str
    status: Status
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "urn": self.urn,
            "name": self.name,
            "type": self.type,
            "status": self.status.value,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class RuleResult:
    """A rule over one graph: a finding per resource it applies to, and whether the blueprint
    made it advisory (`advisory` holds the reason)."""

    rule: Rule
    findings: tuple[Finding, ...] = ()
    advisory: str | None = None

    @property
    def violations(self) -> list[Finding]:
        return [f for f in self.findings if f.status is Status.NON_COMPLIANT]

    @property
    def status(self) -> Status:
        if self.violations:
            return Status.NON_COMPLIANT
        if any(f.status is Status.COMPLIANT for f in self.findings):
            return Status.COMPLIANT
        return Status.NOT_APPLICABLE

    @property
    def blocking(self) -> bool:
        """A violation of a mandatory rule: `plan --check` and the policy pack stop on it."""
        return self.advisory is None and self.status is Status.NON_COMPLIANT

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.rule.id,
            "description": self.rule.description,
            "severity": self.rule.severity.value,
            "enforcement": "advisory" if self.advisory is not None else "mandatory",
            "advisory_reason": self.advisory,
            "status": self.status.value,
            "findings": [f.to_dict() for f in self.findings],
        }


@dataclass(frozen=True)
class Report:
    project: str
    stack: str
    results: tuple[RuleResult, ...]

    @property
    def blocking(self) -> list[RuleResult]:
        return [r for r in self.results if r.blocking]

    @property
    def passed(self) -> bool:
        return not self.blocking

    def result(self, rule_id: str) -> RuleResult:
        return next(r for r in self.results if r.rule.id == rule_id)

    def summary(self) -> str:
        """The blocking violations, one per line (for test failures)."""
        return "\n".join(f"{r.rule.id} {f.name}: {f.reason}" for r in self.blocking for f in r.violations)

    def to_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "stack": self.stack,
            "passed": self.passed,
            "rules": [r.to_dict() for r in self.results],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)


def check_graph(
    graph: ResourceGraph, advisory: Mapping[str, str] | None = None, rules: Iterable[Rule] | None = None
) -> Report:
    """Run `rules` (default: the whole pack) over every resource of `graph`; `advisory` maps the
    ids of rules a blueprint made advisory to the reason (`Blueprint.rules.advisory`)."""
    advisory = dict(advisory or {})
    unknown = sorted(set(advisory) - set(RULES))
    if unknown:
        raise ValueError(f"unknown rule ids: {', '.join(unknown)}")
    results = []
    for r in pack() if rules is None else rules:
        findings = []
        for resource in graph.resources:
            if r.applies(resource):
                scope = graph if r.reads_graph else ResourceGraph(graph.project, graph.stack, [resource])
                outcome = r.check(resource, scope)
                findings.append(
                    Finding(r.id, resource.urn, resource.name, resource.type, outcome.status, outcome.reason)
                )
        results.append(RuleResult(r, tuple(findings), advisory.get(r.id)))
    return Report(graph.project, graph.stack, tuple(results))
