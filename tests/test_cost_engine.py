"""The pricing engine on small hand-built graphs, priced to the cent by hand."""

from __future__ import annotations

import pytest

from mlops_bp.blueprints import UserError
from mlops_bp.stacks.cost import PriceTable, estimate, load_price_table, runs_per_month, usage_for
from mlops_bp.stacks.graph import CapturedResource, ResourceGraph
from tests.conftest import make_blueprint

# A usage profile with round numbers, so the expected costs below are easy to check by hand.
USAGE = {
    "inference": {"requests_per_month": 1_000_000, "duration_ms": 100, "payload_kb": 10},
    "notebook": {"hours_per_month": 40},
    "kms": {"requests_per_month": 100_000},
    "monitoring": {"minutes_per_run": 10},
}


def _res(type_: str, name: str, inputs: dict | None = None, *, custom: bool = True) -> CapturedResource:
    return CapturedResource(
        type=type_,
        name=name,
        urn=f"urn:pulumi:dev::demo::{type_}::{name}",
        parent="",
        inputs=inputs or {},
        custom=custom,
    )


def _graph(*resources: CapturedResource, region: str = "us-east-1") -> ResourceGraph:
    provider = _res("pulumi:providers:aws", "aws", {"region": region})
    return ResourceGraph(project="demo", stack="dev", resources=[provider, *resources])


def _usage(**overrides):
    return usage_for(make_blueprint(4), {**USAGE, **overrides})


def _price(*resources: CapturedResource, region: str = "us-east-1", **usage):
    return estimate(_graph(*resources, region=region), _usage(**usage))


def test_fixed_and_instance_charges_to_the_cent():
    est = _price(
        _res("aws:kms/key:Key", "key"),
        _res("aws:cloudwatch/metricAlarm:MetricAlarm", "alarm"),
        _res("aws:cloudwatch/dashboard:Dashboard", "dash"),
        _res(
            "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
            "config",
            {
                "productionVariants": [
                    {
                        "variantName": "blue",
                        "instanceType": "ml.m5.large",
                        "initialInstanceCount": 1.0,
                        "initialVariantWeight": 0.9,
                    },
                    {
                        "variantName": "green",
                        "instanceType": "ml.m5.xlarge",
                        "initialInstanceCount": 2.0,
                        "initialVariantWeight": 0.1,
                    },
                ]
            },
        ),
        _res(
            "aws:sagemaker/notebookInstance:NotebookInstance",
            "nb",
            {"instanceType": "ml.t3.medium", "volumeSize": 20.0},
        ),
        _res("aws:iam/role:Role", "role"),
        _res("mlopsbp:aws:Endpoint", "component", custom=False),
    )
    # idle: key 1.00 + alarm 0.10 + dashboard 3.00 + blue 730 h x 0.115 = 83.95
    #       + green 730 h x 2 x 0.23 = 335.80 + notebook volume 20 GB x 0.14 = 2.80
    assert est.idle_total == 426.65
    # at usage, in addition: KMS 100k requests x 0.03/10k = 0.30; notebook 40 h x 0.05 = 2.00;
    # data processed 1M requests x 10 KB x 2 (in+out) = 20 GB x 0.016 = 0.32 (split 0.9/0.1)
    assert est.usage_total == 429.27
    blue = next(line for line in est.lines if "variant blue" in line.what and line.unit == "instance-hour")
    assert (blue.unit_price, blue.idle_quantity, round(blue.idle_cost, 2)) == (0.115, 730, 83.95)
    data = [line for line in est.lines if "data processed" in line.what]
    assert [round(line.usage_quantity, 6) for line in data] == [18.0, 2.0]
    assert [r.type for r in est.free] == ["pulumi:providers:aws", "aws:iam/role:Role"]
    assert est.unpriced == []


def test_serverless_endpoint_costs_nothing_idle():
    est = _price(
        _res(
            "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
            "config",
            {
                "productionVariants": [
                    {"variantName": "AllTraffic", "serverlessConfig": {"memorySizeInMb": 2048.0, "maxConcurrency": 5.0}}
                ]
            },
        )
    )
    # 1M requests x 0.1 s x 2 GB = 200,000 GB-s x 0.00002 = 4.00; 20 GB processed x 0.016 = 0.32
    assert est.idle_total == 0
    assert est.usage_total == 4.32


def test_monitoring_schedule_reads_its_job_definition():
    est = _price(
        _res(
            "aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition",
            "jobdef",
            {
                "name": "quality",
                "jobResources": {"clusterConfig": {"instanceType": "ml.m5.xlarge", "instanceCount": 2.0}},
            },
        ),
        _res(
            "aws:sagemaker/monitoringSchedule:MonitoringSchedule",
            "schedule",
            {
                "monitoringScheduleConfig": {
                    "scheduleConfig": {"scheduleExpression": "cron(0 * ? * * *)"},
                    "monitoringJobDefinitionName": "quality",
                }
            },
        ),
    )
    # hourly: 730 runs x 10 min = 121.67 h x 2 instances x 0.23 = 55.97, billed idle too
    assert est.idle_total == est.usage_total == 55.97


def test_monitoring_schedule_without_its_job_definition_is_unpriced():
    schedule = _res(
        "aws:sagemaker/monitoringSchedule:MonitoringSchedule",
        "schedule",
        {
            "monitoringScheduleConfig": {
                "scheduleConfig": {"scheduleExpression": "cron(0 * ? * * *)"},
                "monitoringJobDefinitionName": "gone",
            }
        },
    )
    est = _price(schedule)
    assert est.lines == []
    assert [u.resource for u in est.unpriced] == ["schedule"]
    assert "gone" in est.unpriced[0].reason


def test_pipeline_is_usage_only_at_the_blueprint_training_instance():
    est = _price(
        _res("aws:sagemaker/pipeline:Pipeline", "pipe"), training={"runs_per_month": 4, "training_hours_per_run": 2}
    )
    # 4 runs x 2 h x 1 ml.m5.large x 0.115 = 0.92; 4 runs x 0.5 h processing x 0.115 = 0.23
    assert est.idle_total == 0
    assert est.usage_total == 1.15


def test_unknown_types_instances_and_inputs_are_unpriced_never_zero():
    est = _price(
        _res("aws:rds/instance:Instance", "db"),
        _res(
            "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
            "big",
            {"productionVariants": [{"instanceType": "ml.p5.48xlarge", "initialInstanceCount": 1.0}]},
        ),
        _res(
            "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
            "nocount",
            {"productionVariants": [{"instanceType": "ml.m5.large"}]},
        ),
        _res("aws:sagemaker/endpointConfiguration:EndpointConfiguration", "empty", {"productionVariants": []}),
        _res("aws:kms/key:Key", "key"),
    )
    reasons = {u.resource: u.reason for u in est.unpriced}
    assert reasons["db"] == "resource type is not in the price table"
    assert "ml.p5.48xlarge" in reasons["big"]
    assert "initialInstanceCount" in reasons["nocount"]
    assert "matches" in reasons["empty"]
    assert {line.resource for line in est.lines} == {"key"}
    assert est.idle_total == 1.00


def test_region_multiplier_and_unknown_region():
    resources = (
        _res("aws:kms/key:Key", "key"),
        _res("aws:s3/bucket:Bucket", "bucket"),
    )
    # eu-west-1 x1.115 on S3 (20 GB x 0.023 = 0.46 -> 0.5129); the KMS key fee is the same everywhere
    est = _price(*resources, region="eu-west-1")
    assert est.region == "eu-west-1"
    assert est.idle_total == round(1.00 + 20 * 0.023 * 1.115, 2) == 1.51
    unknown = _price(*resources, region="af-south-1")
    assert unknown.lines == []
    assert {u.resource for u in unknown.unpriced} == {"key", "bucket"}
    assert all("af-south-1" in u.reason for u in unknown.unpriced)


def test_eks_cluster_and_nodes():
    est = _price(
        _res("aws:eks/cluster:Cluster", "cluster"),
        _res(
            "aws:eks/nodeGroup:NodeGroup",
            "nodes",
            {"instanceTypes": ["m5.large"], "scalingConfig": {"desiredSize": 2.0}, "diskSize": 20.0},
        ),
    )
    # 730 h x 0.10 = 73.00; 730 h x 2 x 0.096 = 140.16; 20 GB x 2 x 0.08 = 3.20
    assert est.idle_total == est.usage_total == 216.36


def test_kubernetes_objects_free_except_volumes_and_load_balancers():
    est = _price(
        _res("kubernetes:apps/v1:Deployment", "server"),
        _res("kubernetes:core/v1:Service", "internal", {"spec": {"type": "ClusterIP"}}),
        _res("kubernetes:core/v1:Service", "public", {"spec": {"type": "LoadBalancer"}}),
        _res(
            "kubernetes:core/v1:PersistentVolumeClaim",
            "mlflow",
            {"spec": {"resources": {"requests": {"storage": "10Gi"}}}},
        ),
    )
    # LB 730 h x 0.025 = 18.25; 10 GiB = 10.737 GB x 0.08 = 0.86
    assert est.idle_total == 19.11
    assert {r.resource for r in est.free} == {"aws", "server", "internal"}
    assert "existing cluster" in next(r.note for r in est.free if r.resource == "server")


@pytest.mark.parametrize(
    ("expression", "runs"),
    [
        ("rate(1 day)", 730 / 24),
        ("rate(30 minutes)", 730 * 2),
        ("rate(6 hours)", 730 / 6),
        ("cron(0 * ? * * *)", 730),
        ("cron(0 3 ? * MON *)", 730 / 24 / 7),
        ("cron(0 3 ? * MON-FRI *)", 5 * 730 / 24 / 7),
        ("cron(0 */6 * * ? *)", 4 * 730 / 24),
        ("cron(0 2 1 * ? *)", 1),
    ],
)
def test_runs_per_month(expression, runs):
    assert runs_per_month(expression) == pytest.approx(runs)


def test_runs_per_month_rejects_other_expressions():
    with pytest.raises(ValueError, match="not a cron"):
        runs_per_month("every day")


def test_usage_defaults_follow_the_blueprint():
    usage = usage_for(
        make_blueprint(2, training={"instance_type": "ml.c5.xlarge", "instance_count": 2, "schedule": "rate(1 day)"})
    )
    assert (usage.training.instance_type, usage.training.instance_count) == ("ml.c5.xlarge", 2)
    assert usage.training.runs_per_month == pytest.approx(30.42)


def test_usage_is_strict():
    with pytest.raises(UserError, match=r"^usage: inference\.requests_per_month: .*'lots'"):
        usage_for(make_blueprint(1), {"inference": {"requests_per_month": "lots"}})
    with pytest.raises(UserError, match=r"inference\.requsts: unknown key"):
        usage_for(make_blueprint(1), {"inference": {"requsts": 5}})


def test_price_table_rules_are_checked():
    data = load_price_table().model_dump(mode="json")
    good = PriceTable.model_validate(data)
    assert good.entry("aws:iam/anything:New").kind == "free"
    assert good.entry("aws:s3/bucket:Bucket").kind == "priced"  # exact key beats no glob
    bad_rules = [
        {"kind": "free", "note": ""},
        {
            "kind": "usage_only",
            "charges": [
                {
                    "what": "x",
                    "unit": "u",
                    "price": 1,
                    "quantity": [1],
                    "idle": True,
                    "source": "s",
                    "date": "2025-01-01",
                }
            ],
        },
        {
            "kind": "priced",
            "charges": [
                {
                    "what": "x",
                    "unit": "u",
                    "price": 1,
                    "quantity": [1],
                    "idle": False,
                    "source": "s",
                    "date": "2025-01-01",
                }
            ],
        },
        {"kind": "priced", "charges": [{"what": "x", "unit": "u", "price": 1, "quantity": [1], "idle": True}]},
        {
            "kind": "priced",
            "charges": [
                {
                    "what": "x",
                    "unit": "u",
                    "price": 1,
                    "quantity": ["inputs.x"],
                    "idle": True,
                    "source": "s",
                    "date": "2025-01-01",
                }
            ],
        },
        {
            "kind": "priced",
            "charges": [
                {
                    "what": "x",
                    "unit": "u",
                    "price": 1,
                    "quantity": ["input.x|furlongs"],
                    "idle": True,
                    "source": "s",
                    "date": "2025-01-01",
                }
            ],
        },
    ]
    for rule in bad_rules:
        with pytest.raises(ValueError):
            PriceTable.model_validate({**data, "resources": {"aws:x/y:Y": rule}})
