"""Every resource type any level emits on either platform is priced or declared free/usage-only,
and the captured graphs of every level price without unpriced resources."""

from __future__ import annotations

import importlib.util

import pytest

from mlops_bp.stacks.cost import estimate, load_price_table, usage_for
from mlops_bp.stacks.plan import plan
from tests.conftest import make_blueprint

EKS = {"cluster": {"create": True, "subnet_ids": ["subnet-0123abcd", "subnet-0456cdef"]}}
CASES = [(level, "sagemaker", {}) for level in range(5)] + [
    (level, "kubernetes", overrides) for level in range(5) for overrides in ({}, {"kubernetes": EKS})
]


def _needs_platform(platform: str) -> None:
    if platform == "kubernetes" and importlib.util.find_spec("mlops_bp.stacks.kubernetes.platform") is None:
        pytest.skip("the kubernetes platform program is not in this tree yet")


@pytest.mark.parametrize(
    ("level", "platform", "overrides"),
    CASES,
    ids=lambda v: str(v) if not isinstance(v, dict) else ("eks" if v else "existing"),
)
def test_every_emitted_type_is_in_the_table_and_priced(level, platform, overrides):
    _needs_platform(platform)
    table = load_price_table()
    blueprint = make_blueprint(level, platform, **overrides)
    usage = usage_for(blueprint)
    for env in blueprint.environments:
        graph = plan(blueprint, env.name)
        missing = sorted(t for t in {r.type for r in graph if not r.is_component} if table.entry(t) is None)
        assert missing == [], f"add these types to stacks/cost/prices.yaml: {missing}"
        est = estimate(graph, usage)
        assert [(u.type, u.reason) for u in est.unpriced] == []
        assert est.region == "us-east-1"
        assert len(est.free) + len({line.resource for line in est.lines}) == len(
            [r for r in graph if not r.is_component]
        )


def test_default_instance_types_are_priced():
    """The catalog's defaults (and their common choices) have a price, so no default is unpriced."""
    from mlops_bp.blueprints import ClusterSettings, NotebookSettings, ServingSettings, TrainingSettings

    prices = load_price_table().instance_prices
    assert NotebookSettings().instance_type in prices["sagemaker_notebook"]
    assert TrainingSettings().instance_type in prices["sagemaker_training"]
    assert TrainingSettings().instance_type in prices["sagemaker_processing"]
    assert ServingSettings().instance_type in prices["sagemaker_hosting"]
    assert all(t in prices["ec2"] for t in ClusterSettings().instance_types)


def test_every_price_has_a_source_and_date():
    table = load_price_table()
    for entry in table.resources.values():
        for charge in entry.charges:
            assert charge.instance_price or (charge.source and charge.date)
    for family in table.instance_prices.values():
        assert all(p.source.startswith("https://aws.amazon.com/") and p.date for p in family.values())
    assert table.region_multipliers.multipliers[table.base_region] == 1.0


# Idle $/month goals of the default blueprint once it serves (issue: "a bill below the AWS
# SageMaker MLOps project template", about $168/month): what `mlops-bp cost --compare` shows.
IDLE_GOALS = {0: 10, 1: 10, 2: 10, 3: 60, 4: 100}


@pytest.mark.parametrize("level", sorted(IDLE_GOALS))
def test_default_idle_bill_stays_under_the_goal(level):
    from mlops_bp.stacks.cost.blueprint import estimate_blueprint

    estimate_ = estimate_blueprint(make_blueprint(level))
    assert not estimate_.unpriced
    assert estimate_.idle_total <= IDLE_GOALS[level], f"level {level}: ${estimate_.idle_total:.2f}/month idle"


def test_the_estimate_is_of_the_stack_once_it_serves():
    """Before the first deploy there is no endpoint; the estimate prices the serving stack."""
    blueprint = make_blueprint(3)
    day_one = sum(estimate(plan(blueprint, e.name), usage_for(blueprint)).idle_total for e in blueprint.environments)
    from mlops_bp.stacks.cost.blueprint import estimate_blueprint

    assert estimate_blueprint(blueprint).idle_total > day_one + 30  # prod's real-time instance
