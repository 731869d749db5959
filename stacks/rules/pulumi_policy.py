"""The rule pack as a Pulumi policy pack (CrossGuard, `pulumi-policy`), for generated repos'
`infra/policy/`: `pulumi preview|up --policy-pack` then enforces the very rules `mlops-bp plan
--check` and the tests run, on what the engine is about to deploy.

Each rule becomes one policy named by its id. A rule that reads only its resource is a
`ResourceValidationPolicy`: the engine hands it the resource's inputs before registering it.
A rule that reads neighbours (a bucket's encryption configuration) is a
`StackValidationPolicy`, run on the whole stack. Either way the engine's arguments are turned
into the shape the checks take, a `CapturedResource` (in a `ResourceGraph`): the engine's
property names are the camelCase ones the plan captures, and its proxies are read-only
`Mapping`/`Sequence`s, which the checks accept. A check that touches a value unknown during
preview raises pulumi-policy's `UnknownValueError`; the engine reports that the policy could
not run yet (not a violation) and runs it again with the values at `pulumi up`.

Mandatory by default; a rule the blueprint lists in `rules.advisory` only warns.
"""

from __future__ import annotations

from collections.abc import Mapping

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyPack,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy import Severity as PolicySeverity

from ..graph import CapturedResource, ResourceGraph
from .core import Rule, Status, check_graph, pack

__all__ = ["captured", "policies", "serve", "stack_graph"]


def _project_and_stack(urn: str) -> tuple[str, str]:
    # urn:pulumi:<stack>::<project>::<type>::<name>
    stack, project = urn.removeprefix("urn:pulumi:").split("::")[:2]
    return project, stack


def captured(resource: ResourceValidationArgs | PolicyResource, parent: str | None = None) -> CapturedResource:
    """What the engine says about one resource, as the captured resource the checks read."""
    opts = resource.opts
    return CapturedResource(
        type=resource.resource_type,
        name=resource.name,
        urn=resource.urn,
        parent=parent if parent is not None else opts.parent or "",
        inputs=resource.props,  # type: ignore[arg-type] - a read-only Mapping proxy
        custom=resource.provider is not None,
        protect=bool(opts.protect),
        provider=resource.provider.urn if resource.provider is not None else "",
        delete_before_replace=bool(opts.delete_before_replace),
        ignore_changes=tuple(opts.ignore_changes),
    )


def stack_graph(args: StackValidationArgs) -> ResourceGraph:
    """Every resource of the stack the engine passes to a stack policy, as a ResourceGraph."""
    resources = [captured(r, r.parent.urn if r.parent is not None else None) for r in args.resources]
    project, stack = _project_and_stack(resources[0].urn) if resources else ("", "")
    return ResourceGraph(project=project, stack=stack, resources=resources)


def _validate_resource(rule: Rule):
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if args.resource_type not in rule.applies_to:
            return
        resource = captured(args)
        outcome = rule.check(resource, ResourceGraph(*_project_and_stack(args.urn), resources=[resource]))
        if outcome.status is Status.NON_COMPLIANT:
            report_violation(outcome.reason, None)

    return validate


def _validate_stack(rule: Rule):
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        [result] = check_graph(stack_graph(args), rules=[rule]).results
        for finding in result.violations:
            report_violation(f"{finding.name}: {finding.reason}", finding.urn)

    return validate


def policies(advisory: Mapping[str, str] | None = None) -> list[Policy]:
    """One policy per rule of the pack: mandatory, or advisory for the rules `advisory` maps to
    the reason (a blueprint's `rules.advisory`)."""
    advisory = dict(advisory or {})
    made: list[Policy] = []
    for rule in pack():
        reason = advisory.get(rule.id)
        common = {
            "name": rule.id,
            "description": rule.description + (f" (advisory: {reason})" if reason else ""),
            "enforcement_level": EnforcementLevel.ADVISORY if reason else EnforcementLevel.MANDATORY,
            "severity": PolicySeverity(rule.severity.value),
        }
        if rule.reads_graph:
            made.append(StackValidationPolicy(validate=_validate_stack(rule), **common))
        else:
            made.append(ResourceValidationPolicy(validate=_validate_resource(rule), **common))
    return made


def serve(name: str, made: list[Policy]) -> None:
    """Run the policy pack for the Pulumi engine (blocks; the engine talks to it over gRPC)."""
    PolicyPack(
        name=name,
        policies=made,
        enforcement_level=EnforcementLevel.MANDATORY,
        description="mlops-bp's rule pack: mandatory unless mlops-bp.yaml lists a rule in rules.advisory",
    )
