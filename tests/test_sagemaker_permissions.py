"""Each role's policy allows the calls its real work makes (and the key grants they need)."""

from __future__ import annotations

import json

from .graphs import graph, overrides


def _statements(g, name: str) -> dict[str, dict]:
    return {s["Sid"]: s for s in json.loads(g.one("aws:iam/rolePolicy:RolePolicy", name).inputs["policy"])["Statement"]}


def test_the_scheduler_role_decrypts_the_schedule_it_runs():
    g = graph(2, deployed=True)
    schedule = g.one("aws:scheduler/schedule:Schedule").inputs
    decrypt = _statements(g, "scheduler")["DecryptSchedule"]
    assert decrypt["Action"] == "kms:Decrypt" and decrypt["Resource"] == schedule["kmsKeyArn"]


def test_the_ci_role_can_deploy_endpoint_configurations_encrypted_with_the_stack_key():
    g = graph(3, "prod", deployed=True)
    key = g.one("aws:sagemaker/endpointConfiguration:EndpointConfiguration").inputs["kmsKeyArn"]
    ci = _statements(g, "-ci-")
    assert ci["EndpointConfigKeyGrant"]["Resource"] == key
    assert ci["EndpointConfigKeyGrant"]["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}
    assert ci["EndpointConfigKeyDescribe"]["Resource"] == key


def test_a_bootstrapped_projects_ci_role_uses_its_pulumi_secrets_key():
    g = graph(1, **overrides(state_bucket="fraud-detect-pulumi-123456789012-us-east-1"))
    secrets = _statements(g, "-ci-policy")["PulumiSecretsKey"]
    assert secrets["Condition"] == {
        "ForAnyValue:StringEquals": {"kms:ResourceAliases": "alias/fraud-detect-pulumi-secrets"}
    }
    assert set(secrets["Action"]) == {"kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"}
    assert "PulumiSecretsKey" not in _statements(graph(1), "-ci-")  # not bootstrapped: no such key


def test_only_the_primary_environments_ci_role_starts_training():
    assert "RunTraining" in _statements(graph(3, "dev", deployed=True), "-ci-")
    for env in ("staging", "prod"):
        ci = _statements(graph(3, env, deployed=True), "-ci-")
        assert "RunTraining" not in ci and "ReadRegistry" in ci


def test_monitoring_has_its_own_role_reading_only_its_environment():
    g = graph(4, "prod", deployed=True)
    job = g.one("aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition").inputs
    monitor = g.one("aws:iam/role:Role", "monitor")
    assert job["roleArn"].endswith(f":role/{monitor.name}")
    # The baseline was promoted with the package: nothing of the primary environment is read.
    assert "fraud-detect-prod-artifacts-" in job["dataQualityBaselineConfig"]["statisticsResource"]["s3Uri"]
    assert "-dev-" not in json.dumps(_statements(g, "monitor"))


def test_the_drift_alarm_period_follows_the_monitoring_cadence():
    daily = graph(4, "prod", deployed=True).one("aws:cloudwatch/metricAlarm:MetricAlarm", "drift")
    assert daily.inputs["period"] == 86400
    hourly = graph(4, "prod", deployed=True, **overrides(monitoring={"monitor_schedule": "cron(0 * ? * * *)"}))
    assert hourly.one("aws:cloudwatch/metricAlarm:MetricAlarm", "drift").inputs["period"] == 3600
