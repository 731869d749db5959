"""Every AWS limit of what the stacks send holds for every blueprint the spec accepts.

The Blueprint bounds `<name>-<environment>` (blueprints/limits.py); here the longest accepted
prefix, with the longest accepted environment name, is planned at every level on both
platforms, day one and deployed, and every physical name is checked against the API's limit.
"""

from __future__ import annotations

import json

import pytest

from mlops_bp.blueprints import Blueprint, BlueprintError, Platform, blueprint_from_data, has_local_nvme
from mlops_bp.blueprints.limits import MAX_NAME_PREFIX
from mlops_bp.stacks.plan import deployed, plan

# Resource type -> (input holding the physical name, the API's maximum length). When the input
# is absent, Pulumi auto-names: the logical name plus "-" and 7 hex characters.
NAME_LIMITS = {
    "aws:iam/role:Role": ("name", 64),
    "aws:iam/rolePolicy:RolePolicy": ("name", 128),
    "aws:sagemaker/model:Model": ("name", 63),
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration": ("name", 63),
    "aws:sagemaker/endpoint:Endpoint": ("name", 63),
    "aws:sagemaker/notebookInstance:NotebookInstance": ("name", 63),
    "aws:sagemaker/notebookInstanceLifecycleConfiguration:NotebookInstanceLifecycleConfiguration": ("name", 63),
    "aws:sagemaker/modelPackageGroup:ModelPackageGroup": ("modelPackageGroupName", 63),
    "aws:sagemaker/pipeline:Pipeline": ("pipelineName", 256),
    "aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition": ("name", 63),
    "aws:sagemaker/monitoringSchedule:MonitoringSchedule": ("name", 63),
    "aws:cloudwatch/eventRule:EventRule": ("name", 64),
    "aws:cloudwatch/eventConnection:EventConnection": ("name", 64),
    "aws:cloudwatch/eventApiDestination:EventApiDestination": ("name", 64),
    "aws:cloudwatch/metricAlarm:MetricAlarm": ("name", 255),
    "aws:cloudwatch/dashboard:Dashboard": ("dashboardName", 255),
    "aws:scheduler/schedule:Schedule": ("name", 64),
    "aws:sns/topic:Topic": ("name", 256),
    "aws:ecr/repository:Repository": ("name", 256),
    "aws:s3/bucket:Bucket": ("bucketPrefix", 37),
    "aws:eks/cluster:Cluster": ("name", 100),
    "aws:eks/nodeGroup:NodeGroup": ("nodeGroupName", 63),
}
LONGEST_ENV = "e" * 12  # the spec's longest environment name


def _longest(platform: Platform, level: int) -> Blueprint:
    name = "n" * (MAX_NAME_PREFIX[platform] - len(LONGEST_ENV) - 1)
    envs = [{"name": LONGEST_ENV}]
    if level >= 3:
        envs += [{"name": "prod", "endpoint": "realtime", "requires_approval": True}]
        envs[0]["endpoint"] = "realtime"
    return blueprint_from_data(
        {"name": name, "level": level, "platform": platform.value, "github": "acme/x", "environments": envs}
    )


def _too_long(blueprint: Blueprint, deploy: bool) -> list[str]:
    graph = plan(blueprint, LONGEST_ENV, deployed(blueprint, LONGEST_ENV) if deploy else None)
    problems = []
    for res in graph.custom:
        if res.type not in NAME_LIMITS:
            continue
        field, limit = NAME_LIMITS[res.type]
        value = res.inputs.get(field)
        physical = value if isinstance(value, str) else f"{res.name}-1234567"
        if len(physical) > limit:
            problems.append(f"{res.type} {physical!r}: {len(physical)} > {limit}")
    return problems


@pytest.mark.parametrize("deploy", [False, True], ids=["day-one", "deployed"])
@pytest.mark.parametrize("level", range(5))
@pytest.mark.parametrize("platform", list(Platform))
def test_the_longest_accepted_names_fit_every_aws_limit(platform, level, deploy):
    assert _too_long(_longest(platform, level), deploy) == []


@pytest.mark.parametrize("platform", list(Platform))
def test_one_character_more_is_refused(platform):
    name = "n" * (MAX_NAME_PREFIX[platform] - len(LONGEST_ENV))
    with pytest.raises(BlueprintError, match=r"^name, environments: "):
        blueprint_from_data(
            {"name": name, "level": 0, "platform": platform.value, "environments": [{"name": LONGEST_ENV}]}
        )


def test_the_bound_is_tight_on_sagemaker():
    """The data-scientist role is the longest SageMaker name: exactly at the IAM limit."""
    role = next(
        r
        for r in plan(_longest(Platform.SAGEMAKER, 0), LONGEST_ENV).of_type("aws:iam/role:Role")
        if "scientist" in r.name
    )
    assert len(role.name) + 8 == 64


@pytest.mark.parametrize(
    ("instance_type", "nvme"),
    [
        ("ml.m5.large", False),
        ("ml.t2.medium", False),
        ("ml.m5d.large", True),
        ("ml.g4dn.xlarge", True),
        ("ml.g5.2xlarge", True),
        ("ml.p4d.24xlarge", True),
        ("ml.c6id.large", True),
        ("ml.inf1.xlarge", False),
    ],
)
def test_local_nvme_instance_types(instance_type, nvme):
    assert has_local_nvme(instance_type) is nvme


def test_instances_with_local_nvme_get_no_volume_key():
    """SageMaker refuses VolumeKmsKeyId / KmsKeyId for them (their disks are hardware-encrypted)."""
    blueprint = blueprint_from_data(
        {
            "name": "fraud-detect",
            "level": 3,
            "github": "acme/x",
            "training": {"instance_type": "ml.g4dn.xlarge"},
            "serving": {"instance_type": "ml.m5d.large"},
        }
    )
    dev = plan(blueprint, "dev", deployed(blueprint, "dev"))
    steps = json.loads(dev.one("aws:sagemaker/pipeline:Pipeline").inputs["pipelineDefinition"])["Steps"]
    train = next(s for s in steps if s["Name"] == "Train")["Arguments"]
    assert "VolumeKmsKeyId" not in train["ResourceConfig"]
    assert train["OutputDataConfig"]["KmsKeyId"].startswith("arn:aws:kms:")  # S3 output stays encrypted
    prod = plan(blueprint, "prod", deployed(blueprint, "prod"))
    assert "kmsKeyArn" not in prod.one("aws:sagemaker/endpointConfiguration:EndpointConfiguration").inputs


@pytest.mark.parametrize("platform", list(Platform))
def test_the_bound_is_computed_from_names_the_stacks_really_build(platform):
    """Each derived name the limit is computed from is one the plan of the longest accepted
    blueprint really has, and the tightest of them is exactly at its API's limit."""
    from mlops_bp.blueprints.limits import DERIVED_NAMES

    blueprint = _longest(platform, 4)
    prefix = f"{blueprint.name}-{LONGEST_ENV}"
    graph = plan(blueprint, LONGEST_ENV, deployed(blueprint, LONGEST_ENV))
    physical = {r.name + "-1234567" for r in graph.custom} | {
        v for r in graph.custom for v in r.inputs.values() if isinstance(v, str)
    }
    for derived in DERIVED_NAMES[platform]:
        assert derived.physical(prefix) in physical, derived
    assert min(n.limit - len(n.physical(prefix)) for n in DERIVED_NAMES[platform]) == 0
