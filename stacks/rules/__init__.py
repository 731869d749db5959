"""The rule pack: mlops-bp's security and hygiene rules over a captured ResourceGraph.

One pack, run everywhere: the project's tests, `mlops-bp plan --check`, the generated repos'
infra tests, and the Pulumi policy pack every generated repo ships (`pulumi_policy.py` adapts
the rules to `pulumi-policy`, which loads only there). A blueprint may make a rule advisory,
with a reason (`rules.advisory` in mlops-bp.yaml); every other rule is mandatory.

Adding a rule: one small check function in the module of its area, decorated with `@rule(...)`
(id, one-line description, severity, the types it applies to), its id listed in
`mlops_bp.blueprints.models.RULE_IDS`, and a compliant and a non-compliant case in
tests/test_rules.py. Like graph.py, nothing here imports Pulumi.
"""

from __future__ import annotations

from . import iam, isolation, kubernetes, services, storage  # noqa: F401 - each module registers its rules
from .core import (
    RULES,
    Finding,
    Report,
    Rule,
    RuleResult,
    Severity,
    Status,
    Verdict,
    check_graph,
    compliant,
    not_applicable,
    pack,
    rule,
    verdict,
    violation,
)

__all__ = [
    "RULES",
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
