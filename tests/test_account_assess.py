"""`assess` against a moto account seeded to look like maturity levels 0, 2 and 4."""

from __future__ import annotations

import dataclasses
import json

import boto3
import pytest
from typer.testing import CliRunner

from mlops_bp.blueprints import FEATURES
from mlops_bp.cli.account.assess import DETECTORS, Found, assess, evaluate, read_account
from mlops_bp.cli.account.session import connect
from mlops_bp.cli.app import app

from .moto_server import ACCOUNT, REGION

runner = CliRunner()
SAGEMAKER_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def _client(service: str):
    return boto3.client(service, region_name=REGION)


def _secure_bucket(name: str, key_arn: str) -> None:
    s3 = _client("s3")
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_public_access_block(
        Bucket=name,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_encryption(
        Bucket=name,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn}}]
        },
    )
    s3.put_bucket_policy(
        Bucket=name,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:*",
                        "Resource": [f"arn:aws:s3:::{name}/*"],
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                    }
                ],
            }
        ),
    )


def _endpoint(name: str, variants: int = 1, capture: bool = False) -> None:
    sm = _client("sagemaker")
    sm.create_model(
        ModelName=f"{name}-model",
        ExecutionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/sm-exec",
        PrimaryContainer={"Image": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/fraud:0.1.0"},
    )
    config = {
        "EndpointConfigName": f"{name}-config",
        "ProductionVariants": [
            {
                "VariantName": f"v{i}",
                "ModelName": f"{name}-model",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "InitialVariantWeight": 1.0,
            }
            for i in range(variants)
        ],
    }
    if capture:
        config["DataCaptureConfig"] = {
            "EnableCapture": True,
            "InitialSamplingPercentage": 100,
            "DestinationS3Uri": "s3://fraud-artifacts/capture",
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        }
    sm.create_endpoint_config(**config)
    sm.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-config")


def _rule(name: str, pattern: dict, target: str) -> None:
    events = _client("events")
    events.put_rule(Name=name, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=name, Targets=[{"Id": "1", "Arn": target}])


def seed(level: int) -> None:
    """Create in moto what a level-`level` mlops-bp account holds (as far as moto can store it)."""
    kms, iam, sm = _client("kms"), _client("iam"), _client("sagemaker")
    key = kms.create_key(Description="fraud data")["KeyMetadata"]
    kms.enable_key_rotation(KeyId=key["KeyId"])
    _secure_bucket("fraud-data", key["Arn"])
    role = iam.create_role(RoleName="fraud-scientist", AssumeRolePolicyDocument=json.dumps(SAGEMAKER_TRUST))["Role"]
    sm.create_notebook_instance_lifecycle_config(
        NotebookInstanceLifecycleConfigName="autostop", OnStart=[{"Content": "ZWNobyBoaQ=="}]
    )
    sm.create_notebook_instance(
        NotebookInstanceName="fraud-notebook",
        InstanceType="ml.t3.medium",
        RoleArn=role["Arn"],
        LifecycleConfigName="autostop",
    )
    if level < 1:
        return
    ecr = _client("ecr")
    ecr.create_repository(
        repositoryName="fraud", imageTagMutability="IMMUTABLE", imageScanningConfiguration={"scanOnPush": True}
    )
    ecr.put_lifecycle_policy(
        repositoryName="fraud",
        lifecyclePolicyText=json.dumps(
            {
                "rules": [
                    {
                        "rulePriority": 1,
                        "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 30},
                        "action": {"type": "expire"},
                    }
                ]
            }
        ),
    )
    provider = iam.create_open_id_connect_provider(
        Url="https://token.actions.githubusercontent.com",
        ClientIDList=["sts.amazonaws.com"],
        ThumbprintList=["6938fd4d98bab03faadb97b34396831e3780aea1"],
    )["OpenIDConnectProviderArn"]
    iam.create_role(
        RoleName="fraud-ci",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"Federated": provider}, "Action": "sts:AssumeRoleWithWebIdentity"}
                ],
            }
        ),
    )
    _endpoint("fraud-dev")
    logs = _client("logs")
    logs.create_log_group(logGroupName="/aws/sagemaker/Endpoints/fraud-dev")
    logs.put_retention_policy(logGroupName="/aws/sagemaker/Endpoints/fraud-dev", retentionInDays=30)
    topic = _client("sns").create_topic(Name="fraud-alarms")["TopicArn"]
    _client("cloudwatch").put_metric_alarm(
        AlarmName="fraud-dev-5xx",
        Namespace="AWS/SageMaker",
        MetricName="Invocation5XXErrors",
        Statistic="Sum",
        Period=300,
        EvaluationPeriods=1,
        Threshold=5,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        AlarmActions=[topic],
    )
    if level < 2:
        return
    _secure_bucket("fraud-artifacts", key["Arn"])
    sm.create_model_package_group(ModelPackageGroupName="fraud-models")
    training = iam.create_role(RoleName="fraud-training", AssumeRolePolicyDocument=json.dumps(SAGEMAKER_TRUST))["Role"]
    pipeline = sm.create_pipeline(
        PipelineName="fraud-train",
        RoleArn=training["Arn"],
        PipelineDefinition=json.dumps({"Version": "2020-12-01", "Steps": []}),
    )["PipelineArn"]
    _client("scheduler").create_schedule(
        Name="fraud-train-weekly",
        ScheduleExpression="cron(0 3 ? * MON *)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": pipeline, "RoleArn": training["Arn"]},
    )
    _rule(
        "fraud-train-failed",
        {"source": ["aws.sagemaker"], "detail-type": ["SageMaker Model Building Pipeline Execution Status Change"]},
        topic,
    )
    if level < 3:
        return
    _endpoint("fraud-staging", variants=2)
    _endpoint("fraud-prod", variants=2, capture=level >= 4)
    _rule(
        "fraud-approved",
        {"source": ["aws.sagemaker"], "detail-type": ["SageMaker Model Package State Change"]},
        f"arn:aws:events:{REGION}:{ACCOUNT}:api-destination/fraud-dispatch/1",
    )
    if level < 4:
        return
    _client("application-autoscaling").register_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId="endpoint/fraud-prod/variant/v0",
        ScalableDimension="sagemaker:variant:DesiredInstanceCount",
        MinCapacity=1,
        MaxCapacity=4,
    )
    _rule(
        "fraud-drift-retrain",
        {"source": ["aws.cloudwatch"], "detail-type": ["CloudWatch Alarm State Change"]},
        pipeline,
    )
    _client("cloudwatch").put_dashboard(DashboardName="fraud", DashboardBody=json.dumps({"widgets": []}))


def test_every_catalog_feature_has_a_detector():
    assert set(DETECTORS) == {f.name for f in FEATURES}


def test_empty_account_is_below_level_0(aws_env):
    result = assess(connect())
    assert result.level is None
    assert result.capability("storage").level is None
    assert "kms_key: KMS key (rotation on) for every encrypted resource" in result.next_adds


def test_level_0_account(aws_env):
    seed(0)
    result = assess(connect())
    assert result.level == 0
    assert {c.capability: c.level for c in result.capabilities} == {
        "storage": 1,
        "registry": 0,
        "training": 1,
        "serving": 0,
        "monitoring": 0,
        "iam": 0,
    }
    assert result.feature("data_bucket").status is Found.YES
    assert "fraud-data" in result.feature("data_bucket").evidence
    assert result.feature("container_registry").status is Found.NO
    assert any(n.startswith("container_registry:") for n in result.next_adds)


def test_level_2_account_through_the_cli(aws_env):
    seed(2)
    res = runner.invoke(app, ["assess", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["level"] == 2
    assert data["account"] == ACCOUNT
    levels = {c["capability"]: c["level"] for c in data["capabilities"]}
    assert levels == {"storage": 4, "registry": 4, "training": 4, "serving": 2, "monitoring": 3, "iam": 4}
    statuses = {f["feature"]: f["status"] for f in data["features"]}
    assert statuses["training_schedule"] == "found" and statuses["training_role"] == "found"
    assert statuses["multi_environment"] == "missing"
    assert "blue_green: Blue/green endpoint updates with automatic rollback on alarms" in data["next_adds"]


def test_level_2_table_output(aws_env):
    seed(2)
    res = runner.invoke(app, ["assess"])
    assert res.exit_code == 0, res.output
    assert "overall: level 2 (Automated training)" in res.stdout
    assert "fraud-train" in res.stdout


def test_level_4_account(aws_env):
    seed(4)
    snapshot = read_account(connect())
    result = evaluate(snapshot)
    for name in ("data_capture", "autoscaling", "drift_retraining", "dashboard", "ab_variants", "deploy_on_approval"):
        assert result.feature(name).status is Found.YES, result.feature(name)
    # moto keeps no endpoint DeploymentConfig and has no ListMonitoringSchedules: assess says
    # exactly that instead of guessing.
    assert result.feature("blue_green").status is Found.NO
    assert result.feature("model_monitor").status is Found.UNKNOWN
    assert "ListMonitoringSchedules" in result.unread["monitoring_schedules"]
    monitoring = result.capability("monitoring")
    assert (monitoring.level, monitoring.max_level) == (3, 4)
    # With the two facts real AWS reports for a level-4 stack, the same snapshot is level 4.
    deployment = {
        "BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE"}},
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "fraud-prod-5xx"}]},
    }
    complete = dataclasses.replace(
        snapshot,
        endpoints=[{**e, "deployment": deployment} if e["name"] == "fraud-prod" else e for e in snapshot.endpoints],
        monitoring_schedules=["fraud-prod-data-quality"],
    )
    assert evaluate(complete).level == 4
    assert {c.level for c in evaluate(complete).capabilities} == {4}
    assert evaluate(complete).next_adds == ()


def test_weak_bucket_is_not_evidence(aws_env):
    seed(0)
    _client("s3").create_bucket(Bucket="plain", CreateBucketConfiguration={"LocationConstraint": REGION})
    result = assess(connect())
    buckets = {b["name"]: b for b in read_account(connect()).buckets}
    assert buckets["plain"]["secure"] is False
    assert "versioning enabled" in buckets["plain"]["missing"]
    assert "plain" not in result.feature("data_bucket").evidence


@pytest.mark.parametrize("host", ["gitlab.com", "git.acme.example"])
def test_gitlab_ci_roles_count_as_ci_oidc_roles(aws_env, host):
    """A role GitLab CI assumes by OIDC (gitlab.com, or a self-managed instance recognised by
    the `project_path:` subjects it trusts) is the CI role evidence, as GitHub's is."""
    iam = _client("iam")
    provider = iam.create_open_id_connect_provider(
        Url=f"https://{host}", ClientIDList=["sts.amazonaws.com"], ThumbprintList=["a" * 40]
    )["OpenIDConnectProviderArn"]
    iam.create_role(
        RoleName="fraud-ci",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Federated": provider},
                        "Action": "sts:AssumeRoleWithWebIdentity",
                        "Condition": {
                            "StringLike": {f"{host}:sub": "project_path:acme/fraud:ref_type:branch:ref:main"}
                        },
                    }
                ],
            }
        ),
    )
    found = assess(connect()).feature("ci_oidc_role")
    assert found.status is Found.YES and "fraud-ci" in found.evidence
