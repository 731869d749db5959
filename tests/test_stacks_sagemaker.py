"""The SageMaker platform per level: exact resource types and the inputs that matter."""

from __future__ import annotations

import json

import pytest

from .graphs import graph, overrides, policy

S3 = {
    "aws:s3/bucket:Bucket",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
    "aws:s3/bucketPolicy:BucketPolicy",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketVersioning:BucketVersioning",
}
LEVEL0 = S3 | {
    "aws:kms/key:Key",
    "aws:kms/alias:Alias",
    "aws:sagemaker/notebookInstance:NotebookInstance",
    "aws:sagemaker/notebookInstanceLifecycleConfiguration:NotebookInstanceLifecycleConfiguration",
    "aws:iam/role:Role",
    "aws:iam/rolePolicy:RolePolicy",
}
# Day one: nothing that needs an image or a model (no endpoint, schedule or monitoring).
LEVEL1 = LEVEL0 | {
    "aws:ecr/repository:Repository",
    "aws:ecr/lifecyclePolicy:LifecyclePolicy",
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
    "aws:sns/topic:Topic",
    "aws:sns/topicPolicy:TopicPolicy",
}
LEVEL2 = LEVEL1 | {
    "aws:sagemaker/modelPackageGroup:ModelPackageGroup",
    "aws:sagemaker/pipeline:Pipeline",
    "aws:cloudwatch/eventRule:EventRule",
    "aws:cloudwatch/eventTarget:EventTarget",
}
LEVEL3 = LEVEL2 | {
    "aws:cloudwatch/eventConnection:EventConnection",
    "aws:cloudwatch/eventApiDestination:EventApiDestination",
}
# What the first deploy adds (it pins images, a model package and its baseline).
SERVING = {
    "aws:sagemaker/model:Model",
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
    "aws:sagemaker/endpoint:Endpoint",
    "aws:cloudwatch/logGroup:LogGroup",
    "aws:cloudwatch/metricAlarm:MetricAlarm",
}
SCHEDULE = {"aws:scheduler/schedule:Schedule"}
LEVEL4_PROD = {
    "aws:s3/bucketObjectv2:BucketObjectv2",
    "aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition",
    "aws:sagemaker/monitoringSchedule:MonitoringSchedule",
    "aws:appautoscaling/target:Target",
    "aws:appautoscaling/policy:Policy",
    "aws:cloudwatch/dashboard:Dashboard",
}
# Account-wide, experiments and training: the primary environment only. The others serve what
# was promoted into their own registry (a model package group in every environment).
NOT_PRIMARY = {
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
    "aws:sagemaker/notebookInstance:NotebookInstance",
    "aws:sagemaker/notebookInstanceLifecycleConfiguration:NotebookInstanceLifecycleConfiguration",
    "aws:sagemaker/pipeline:Pipeline",
    "aws:scheduler/schedule:Schedule",
    "aws:cloudwatch/eventRule:EventRule",
    "aws:cloudwatch/eventTarget:EventTarget",
    "aws:cloudwatch/eventConnection:EventConnection",
    "aws:cloudwatch/eventApiDestination:EventApiDestination",
}
DRIFT_RULE = {"aws:cloudwatch/eventRule:EventRule", "aws:cloudwatch/eventTarget:EventTarget"}
DASHBOARD = {"aws:cloudwatch/dashboard:Dashboard"}


@pytest.mark.parametrize(
    ("level", "env", "day_one", "after_deploy"),
    [
        (0, "dev", LEVEL0, LEVEL0),
        (1, "dev", LEVEL1, LEVEL1 | SERVING),
        (2, "dev", LEVEL2, LEVEL2 | SERVING | SCHEDULE),
        (3, "dev", LEVEL3, LEVEL3 | SERVING | SCHEDULE),
        (3, "staging", LEVEL3 - NOT_PRIMARY, (LEVEL3 | SERVING | SCHEDULE) - NOT_PRIMARY),
        (3, "prod", LEVEL3 - NOT_PRIMARY, (LEVEL3 | SERVING | SCHEDULE) - NOT_PRIMARY),
        (4, "dev", LEVEL3, LEVEL3 | SERVING | SCHEDULE | DASHBOARD),
        (4, "staging", LEVEL3 - NOT_PRIMARY, (LEVEL3 | SERVING | SCHEDULE | DASHBOARD) - NOT_PRIMARY),
        (4, "prod", LEVEL3 - NOT_PRIMARY, (LEVEL3 | SERVING | LEVEL4_PROD) - NOT_PRIMARY | DRIFT_RULE),
    ],
)
def test_exact_resource_types_per_level(level, env, day_one, after_deploy):
    assert graph(level, env).types() == day_one
    assert graph(level, env, deployed=True).types() == after_deploy


def test_counts_grow_with_the_level():
    counts = [len(graph(level, deployed=True).custom) for level in range(5)]
    assert counts == sorted(counts) and len(set(counts)) == len(counts)


def test_day_one_says_where_the_endpoint_comes_from():
    from mlops_bp.stacks.aws.sagemaker import FIRST_DEPLOY

    assert graph(1).outputs.get("endpoint") == FIRST_DEPLOY


def test_buckets_are_encrypted_with_the_stack_key():
    g = graph(2)
    key = g.one("aws:kms/key:Key")
    assert key.inputs["enableKeyRotation"] is True
    key_arn = f"arn:aws:kms:us-east-1:123456789012:key/{key.name}-key-id"
    encryption = g.of_type("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    assert len(encryption) == 2
    for res in encryption:
        default = res.inputs["rules"][0]["applyServerSideEncryptionByDefault"]
        assert default == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": key_arn}


def test_notebook_is_locked_down_and_stops_when_idle():
    g = graph(0)
    nb = g.one("aws:sagemaker/notebookInstance:NotebookInstance")
    assert nb.inputs["instanceType"] == "ml.t3.medium"
    assert nb.inputs["rootAccess"] == "Disabled"
    assert nb.inputs["kmsKeyId"].startswith("arn:aws:kms:")
    assert nb.inputs["directInternetAccess"] == "Enabled"  # no VPC given: SageMaker needs it for pip
    lifecycle = g.one("aws:sagemaker/notebookInstanceLifecycleConfiguration:NotebookInstanceLifecycleConfiguration")
    import base64

    script = base64.b64decode(lifecycle.inputs["onStart"]).decode()
    assert 'IDLE_MINUTES="60"' in script and "stop-notebook-instance" in script
    assert nb.inputs["lifecycleConfigName"] == lifecycle.inputs["name"]


def test_notebook_in_a_vpc_has_no_direct_internet():
    g = graph(0, **overrides(network={"subnet_ids": ["subnet-0123abcd"], "security_group_ids": ["sg-0123abcd"]}))
    nb = g.one("aws:sagemaker/notebookInstance:NotebookInstance")
    assert nb.inputs["directInternetAccess"] == "Disabled"
    assert nb.inputs["subnetId"] == "subnet-0123abcd" and nb.inputs["securityGroups"] == ["sg-0123abcd"]


def test_level1_registry_and_serverless_endpoint():
    g = graph(1, deployed=True)
    repo = g.one("aws:ecr/repository:Repository")
    assert repo.inputs["imageTagMutability"] == "IMMUTABLE"
    assert repo.inputs["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repo.inputs["encryptionConfigurations"][0]["encryptionType"] == "KMS"
    rules = json.loads(g.one("aws:ecr/lifecyclePolicy:LifecyclePolicy").inputs["policy"])["rules"]
    assert rules[1]["selection"]["countNumber"] == 30
    config = g.one("aws:sagemaker/endpointConfiguration:EndpointConfiguration")
    (variant,) = config.inputs["productionVariants"]
    assert variant["serverlessConfig"] == {"memorySizeInMb": 2048, "maxConcurrency": 5}
    assert "instanceType" not in variant
    model = g.one("aws:sagemaker/model:Model")
    # Level 1 has no registry: it serves the image CI built, with the model inside, of the
    # commit the deploy pinned.
    assert model.inputs["primaryContainer"]["image"].endswith("/fraud-detect-dev:" + "0" * 40)
    logs = g.one("aws:cloudwatch/logGroup:LogGroup")
    assert logs.inputs["name"] == "/aws/sagemaker/Endpoints/fraud-detect-dev-endpoint"
    assert logs.inputs["retentionInDays"] == 30 and logs.inputs["kmsKeyId"].startswith("arn:aws:kms:")
    alarms = {a.inputs["metricName"]: a for a in g.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    assert set(alarms) == {"Invocation5XXErrors", "ModelLatency"}
    assert alarms["ModelLatency"].inputs["threshold"] == 1_000_000  # 1000 ms in microseconds
    topic = g.one("aws:sns/topic:Topic")
    for alarm in alarms.values():
        assert alarm.inputs["alarmActions"] == [f"arn:aws:sns:us-east-1:123456789012:topic/{topic.inputs['name']}"]


def test_ci_role_trusts_only_the_configured_repo():
    # Only jobs of the environment's GitHub environment: no branch, pull-request or dispatch
    # subject, so its protection rules guard every use of the role.
    for level, env, subjects in [
        (1, "dev", ["repo:acme/fraud-detect:environment:dev"]),
        (3, "staging", ["repo:acme/fraud-detect:environment:staging"]),
        (3, "prod", ["repo:acme/fraud-detect:environment:prod"]),
    ]:
        role = graph(level, env).one("aws:iam/role:Role", "-ci-role")
        (statement,) = policy(role, "assumeRolePolicy")["Statement"]
        assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
        conditions = statement["Condition"]
        assert conditions["StringEquals"] == {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}
        assert conditions["StringLike"] == {"token.actions.githubusercontent.com:sub": subjects}


def test_no_ci_role_without_a_github_repo():
    g = graph(1, **overrides(github=None))
    assert not [r for r in g.of_type("aws:iam/role:Role") if "-ci-" in r.name]
    assert "aws:iam/openIdConnectProvider:OpenIdConnectProvider" not in g.types()


def test_existing_oidc_provider_is_reused():
    arn = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
    g = graph(1, **overrides(oidc_provider_arn=arn))
    assert "aws:iam/openIdConnectProvider:OpenIdConnectProvider" not in g.types()
    role = g.one("aws:iam/role:Role", "-ci-")
    assert policy(role, "assumeRolePolicy")["Statement"][0]["Principal"] == {"Federated": arn}


def _pipeline(g) -> dict:
    return json.loads(g.one("aws:sagemaker/pipeline:Pipeline").inputs["pipelineDefinition"])


def test_level2_pipeline_processes_trains_evaluates_and_registers():
    g = graph(2, deployed=True)
    definition = _pipeline(g)
    steps = {s["Name"]: s for s in definition["Steps"]}
    assert [s["Type"] for s in definition["Steps"]] == ["Processing", "Training", "Processing", "Condition"]
    condition = steps["CheckMetric"]["Arguments"]
    assert condition["Conditions"][0]["RightValue"] == 0.8
    (register,) = condition["IfSteps"]
    assert register["Type"] == "RegisterModel"
    assert register["Arguments"]["ModelApprovalStatus"] == "PendingManualApproval"
    assert register["Arguments"]["ModelPackageGroupName"] == "fraud-detect-dev-models"
    assert condition["ElseSteps"][0]["Type"] == "Fail"
    train = steps["Train"]["Arguments"]
    assert train["EnableManagedSpotTraining"] is False
    assert train["ResourceConfig"]["InstanceType"] == "ml.m5.large"
    assert train["ResourceConfig"]["VolumeKmsKeyId"].startswith("arn:aws:kms:")
    assert train["OutputDataConfig"]["KmsKeyId"].startswith("arn:aws:kms:")
    assert train["AlgorithmSpecification"]["TrainingImage"] == {"Get": "Parameters.TrainingImage"}
    parameters = {p["Name"]: p["DefaultValue"] for p in definition["Parameters"]}
    assert parameters["TrainingImage"].endswith(".amazonaws.com/fraud-detect-dev:train-" + "0" * 40)
    assert parameters["ServingImage"].endswith(".amazonaws.com/fraud-detect-dev:" + "0" * 40)
    assert parameters["InputDataUri"] == "s3://fraud-detect-dev-data-bucket-mock/datasets/train.csv"
    baselines = register["Arguments"]["DriftCheckBaselines"]["ModelDataQuality"]
    assert baselines["Statistics"]["S3Uri"]["Std:Join"]["Values"][1] == "statistics.json"
    assert register["Arguments"]["InferenceSpecification"]["Containers"][0]["Image"] == {
        "Get": "Parameters.ServingImage"
    }
    group = g.one("aws:sagemaker/modelPackageGroup:ModelPackageGroup")
    assert group.protect
    schedule = g.one("aws:scheduler/schedule:Schedule")
    assert schedule.inputs["scheduleExpression"] == "cron(0 3 ? * MON *)"
    assert schedule.inputs["target"]["arn"].endswith(":pipeline/fraud-detect-dev-training")
    rule = g.one("aws:cloudwatch/eventRule:EventRule", "pipeline-failed")
    assert json.loads(rule.inputs["eventPattern"])["detail"]["currentPipelineExecutionStatus"] == ["Failed"]


def test_spot_and_distributed_training_settings_reach_the_pipeline():
    g = graph(2, **overrides(training={"use_spot": True, "instance_count": 4, "max_runtime_hours": 3}))
    train = {s["Name"]: s for s in _pipeline(g)["Steps"]}["Train"]["Arguments"]
    assert train["EnableManagedSpotTraining"] is True
    assert train["StoppingCondition"] == {"MaxRuntimeInSeconds": 10800, "MaxWaitTimeInSeconds": 21600}
    assert "CheckpointConfig" in train
    assert train["ResourceConfig"]["InstanceCount"] == 4
    assert train["EnableInterContainerTrafficEncryption"] is True


def test_level3_prod_blue_green_with_rollback_on_one_small_variant():
    g = graph(3, "prod", deployed=True)
    config = g.one("aws:sagemaker/endpointConfiguration:EndpointConfiguration")
    variants = config.inputs["productionVariants"]
    assert [(v["variantName"], v["initialVariantWeight"]) for v in variants] == [("primary", 1.0)]
    assert all(v["instanceType"] == "ml.t2.medium" for v in variants)
    assert config.inputs["kmsKeyArn"].startswith("arn:aws:kms:")
    endpoint = g.one("aws:sagemaker/endpoint:Endpoint")
    deployment = endpoint.inputs["deploymentConfig"]
    assert deployment["blueGreenUpdatePolicy"]["trafficRoutingConfiguration"]["type"] == "CANARY"
    rollback = {a["alarmName"] for a in deployment["autoRollbackConfiguration"]["alarms"]}
    alarm_names = {a.inputs["name"] for a in g.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    assert rollback == alarm_names and len(rollback) == 2  # 5xx + latency per variant


def test_level3_approval_dispatches_the_deploy_workflow():
    g = graph(3)  # approvals happen in the primary environment's registry
    rule = g.one("aws:cloudwatch/eventRule:EventRule", "approved")
    pattern = json.loads(rule.inputs["eventPattern"])
    assert pattern["detail"] == {
        "ModelPackageGroupName": ["fraud-detect-dev-models"],
        "ModelApprovalStatus": ["Approved"],
    }
    destination = g.one("aws:cloudwatch/eventApiDestination:EventApiDestination")
    # workflow_dispatch of deploy.yml: the token needs Actions: write only (repository_dispatch
    # would need Contents: write, which can push code).
    assert (
        destination.inputs["invocationEndpoint"]
        == "https://api.github.com/repos/acme/fraud-detect/actions/workflows/deploy.yml/dispatches"
    )
    connection = g.one("aws:cloudwatch/eventConnection:EventConnection")
    assert connection.inputs["authParameters"] == "[secret]"  # the token is a Pulumi secret, never plain
    target = g.one("aws:cloudwatch/eventTarget:EventTarget", "to-github")
    template = target.inputs["inputTransformer"]["inputTemplate"]
    assert template == '{"ref": "main", "inputs": {"model_package_arn": <arn>}}'
    for env in ("staging", "prod"):  # approvals happen in the primary's registry only
        assert "aws:cloudwatch/eventApiDestination:EventApiDestination" not in graph(3, env).types()


def test_level4_capture_monitor_retrain_autoscale_dashboard():
    g = graph(4, "prod", deployed=True)
    capture = g.one("aws:sagemaker/endpointConfiguration:EndpointConfiguration").inputs["dataCaptureConfig"]
    assert capture["enableCapture"] is True and capture["initialSamplingPercentage"] == 100
    assert (
        capture["destinationS3Uri"].startswith("s3://")
        and "/data-capture/fraud-detect-prod-endpoint" in capture["destinationS3Uri"]
    )
    assert capture["kmsKeyId"].startswith("arn:aws:kms:")
    schedule = g.one("aws:sagemaker/monitoringSchedule:MonitoringSchedule")
    assert schedule.inputs["monitoringScheduleConfig"]["monitoringType"] == "DataQuality"
    job = g.one("aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition")
    assert job.inputs["dataQualityAppSpecification"]["imageUri"].startswith("156813124566.dkr.ecr.us-east-1")
    drift = g.one("aws:cloudwatch/metricAlarm:MetricAlarm", "drift")
    assert drift.inputs["threshold"] == 0.2 and drift.inputs["metricName"] == "DriftedFeatureShare"
    retrain = g.one("aws:cloudwatch/eventRule:EventRule", "data-quality-retrain")
    assert json.loads(retrain.inputs["eventPattern"])["detail"] == {"state": {"value": ["ALARM"]}}
    target = g.one("aws:cloudwatch/eventTarget:EventTarget", "retrain-pipeline")
    assert target.inputs["arn"].endswith(":pipeline/fraud-detect-dev-training")  # training lives in dev
    targets = g.of_type("aws:appautoscaling/target:Target")
    assert {t.inputs["resourceId"] for t in targets} == {"endpoint/fraud-detect-prod-endpoint/variant/primary"}
    assert all((t.inputs["minCapacity"], t.inputs["maxCapacity"]) == (1, 4) for t in targets)
    dashboard = json.loads(g.one("aws:cloudwatch/dashboard:Dashboard").inputs["dashboardBody"])
    assert [w["properties"]["title"] for w in dashboard["widgets"]] == [
        "Invocations",
        "Model latency p90 (us)",
        "5xx errors",
        "Drifted feature share",
    ]


def test_model_monitor_in_an_unsupported_region_is_a_clear_error():
    from mlops_bp.blueprints import BlueprintError

    with pytest.raises(BlueprintError, match=r"region: SageMaker Model Monitor .* is not offered in ap-south-2"):
        graph(4, "prod", **overrides(region="ap-south-2"))


def test_every_aws_resource_gets_the_blueprint_tags_through_the_provider():
    g = graph(3, "prod", **overrides(tags={"team": "risk"}))
    (provider,) = g.of_type("pulumi:providers:aws")
    tags = json.loads(provider.inputs["defaultTags"])["tags"]  # provider inputs are JSON-encoded
    assert tags == {
        "team": "risk",
        "mlops-bp:project": "fraud-detect",
        "mlops-bp:environment": "prod",
        "mlops-bp:level": "3",
        "managed-by": "mlops-bp",
    }
    assert provider.inputs["region"] == "us-east-1"
    assert all(r.provider.startswith(provider.urn) for r in g.custom if r.type.startswith("aws:"))


def test_names_derive_from_project_and_environment():
    g = graph(3, "staging", deployed=True)
    assert g.one("aws:sagemaker/endpoint:Endpoint").inputs["name"] == "fraud-detect-staging-endpoint"
    assert g.one("aws:ecr/repository:Repository").inputs["name"] == "fraud-detect-staging"
    assert all(b.inputs["bucketPrefix"].startswith("fraud-detect-staging-") for b in g.of_type("aws:s3/bucket:Bucket"))


def test_other_environments_serve_only_what_was_promoted_into_them():
    prod = graph(3, "prod", deployed=True)
    # The served package is in prod's own registry; serving reads prod's resources only.
    model = prod.one("aws:sagemaker/model:Model").inputs["primaryContainer"]
    assert ":model-package/fraud-detect-prod-models/" in model["modelPackageName"]
    assert model["environment"]["MLOPS_BP_MODEL_SHA256"] == "0" * 64
    serving = policy(prod.one("aws:iam/rolePolicy:RolePolicy", "serving"))["Statement"]
    assert not any("dev" in json.dumps(s) for s in serving)
    # Prod's CI role is the promotion path: it reads the primary's registry, artifacts (of the
    # exact account) and image, and writes prod's own.
    ci = {s["Sid"]: s for s in policy(prod.one("aws:iam/rolePolicy:RolePolicy", "-ci-policy"))["Statement"]}
    assert ci["PromoteFromArtifacts"]["Resource"] == "arn:aws:s3:::fraud-detect-dev-artifacts-*/*"
    assert ci["PromoteFromArtifacts"]["Condition"] == {"StringEquals": {"s3:ResourceAccount": "123456789012"}}
    assert ci["PromoteFromKey"]["Condition"] == {
        "ForAnyValue:StringEquals": {"kms:ResourceAliases": "alias/fraud-detect-dev-kms"}
    }
    assert ci["PromoteFromImages"]["Resource"].endswith(":repository/fraud-detect-dev")
    assert all(
        r.endswith(("/fraud-detect-prod-models", "/fraud-detect-prod-models/*"))
        for r in ci["PromoteIntoRegistry"]["Resource"]
    )
    assert all(":model-package" in r and "prod-models" in r for r in ci["ReadRegistry"]["Resource"])
    assert "RunTraining" not in ci  # prod's CI role starts no training
    dev_ci = {s["Sid"] for s in policy(graph(3, "dev").one("aws:iam/rolePolicy:RolePolicy", "-ci-policy"))["Statement"]}
    assert not any(sid.startswith("Promote") for sid in dev_ci)  # nothing is promoted into the primary


def test_gitlab_ci_gets_its_own_oidc_trust_and_deploy_trigger():
    g = graph(3, "prod", **overrides(github=None, gitlab="acme/ml/fraud-detect"))
    role = g.one("aws:iam/role:Role", "-ci-role")
    (statement,) = policy(role, "assumeRolePolicy")["Statement"]
    assert statement["Principal"] == {"Federated": "arn:aws:iam::123456789012:oidc-provider/gitlab.com"}
    # prod: protected release tags that are not release candidates; nothing a main-branch job has.
    assert statement["Condition"] == {
        "StringEquals": {"gitlab.com:aud": "sts.amazonaws.com"},
        "StringLike": {"gitlab.com:sub": ["project_path:acme/ml/fraud-detect:ref_type:tag:ref:v*"]},
        "StringNotLike": {"gitlab.com:sub": ["project_path:acme/ml/fraud-detect:ref_type:tag:ref:*-rc*"]},
    }
    subjects = {
        env: policy(
            graph(3, env, **overrides(github=None, gitlab="acme/ml/fraud-detect")).one("aws:iam/role:Role", "-ci-role"),
            "assumeRolePolicy",
        )["Statement"][0]["Condition"]["StringLike"]["gitlab.com:sub"]
        for env in ("dev", "staging")
    }
    assert subjects == {
        "dev": ["project_path:acme/ml/fraud-detect:ref_type:branch:ref:main"],
        "staging": ["project_path:acme/ml/fraud-detect:ref_type:tag:ref:v*-rc*"],
    }
    approvals = graph(3, "dev", **overrides(github=None, gitlab="acme/ml/fraud-detect"))
    destination = approvals.one("aws:cloudwatch/eventApiDestination:EventApiDestination")
    assert (
        destination.inputs["invocationEndpoint"]
        == "https://gitlab.com/api/v4/projects/acme%2Fml%2Ffraud-detect/pipeline"
    )
    target = approvals.one("aws:cloudwatch/eventTarget:EventTarget", "to-gitlab")
    template = target.inputs["inputTransformer"]["inputTemplate"]
    assert '"ref": "main"' in template and '{"key": "MODEL_APPROVED", "value": "true"}' in template
    assert approvals.one("aws:cloudwatch/eventConnection:EventConnection").inputs["authParameters"] == "[secret]"
    dev = graph(3, "dev", **overrides(github=None, gitlab="acme/ml/fraud-detect", gitlab_host="git.acme.example"))
    provider = dev.one("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    assert provider.inputs["url"] == "https://git.acme.example" and provider.name.endswith("-gitlab-oidc")
