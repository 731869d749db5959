"""The team's security expectations, checked on every environment's stack offline: the real
Pulumi program runs under Pulumi's mocks (no cloud account, no credentials), and mlops-bp's rule
pack judges what it declares: the rules infra/policy enforces at `pulumi preview` and
`pulumi up`, and `mlops-bp plan --check` shows. A rule that ../../mlops-bp.yaml makes advisory
(`rules.advisory`) is skipped here with its reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mlops_bp.blueprints import load_blueprint
from mlops_bp.stacks.plan import plan
from mlops_bp.stacks.rules import check_graph, pack

BLUEPRINT = load_blueprint(Path(__file__).resolve().parents[2] / "mlops-bp.yaml")
RULES = pack()
GITHUB_SUB = "token.actions.githubusercontent.com:sub"


@pytest.fixture(scope="module", params=[env.name for env in BLUEPRINT.environments])
def graph(request):
    return plan(BLUEPRINT, request.param)


@pytest.fixture(scope="module")
def report(graph):
    return check_graph(graph, BLUEPRINT.rules.advisory)


@pytest.mark.parametrize("rule", RULES, ids=[rule.id for rule in RULES])
def test_rule(report, rule) -> None:
    result = report.result(rule.id)
    if result.advisory is not None and result.violations:
        pytest.skip(f"advisory ({result.advisory}): {len(result.violations)} violation(s)")
    assert not result.blocking, "\n".join(f"{f.name}: {f.reason}" for f in result.violations)


def test_the_data_bucket_exists(graph) -> None:
    assert [r for r in graph.of_type("aws:s3/bucket:Bucket") if "data" in r.name]


def test_ci_roles_trust_only_this_repository(graph) -> None:
    trusted = []
    for role in graph.of_type("aws:iam/role:Role"):
        statements = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
        for statement in statements if isinstance(statements, list) else [statements]:
            subjects = statement.get("Condition", {}).get("StringLike", {}).get(GITHUB_SUB)
            if subjects is not None:
                subjects = [subjects] if isinstance(subjects, str) else subjects
                assert all(s.startswith(f"repo:{BLUEPRINT.github}:") for s in subjects), subjects
                trusted.extend(subjects)
    if BLUEPRINT.github and int(BLUEPRINT.level) >= 1:
        assert trusted, "the CI deploy role is missing"
