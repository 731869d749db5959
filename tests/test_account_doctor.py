"""`doctor` against a real moto server: the passing case and each failing check."""

from __future__ import annotations

import json

import boto3
from typer.testing import CliRunner

from mlops_bp.cli.account.doctor import (
    Status,
    denied_actions,
    doctor,
    quota_checks,
    quota_needs,
    required_actions,
)
from mlops_bp.cli.account.session import connect
from mlops_bp.cli.app import app

from .conftest import make_blueprint
from .moto_server import ACCOUNT, REGION

runner = CliRunner()
GITHUB_PROVIDER = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"


def _checks(res) -> dict[str, dict]:
    return {c["name"]: c for c in json.loads(res.stdout)["checks"]}


def _github_provider() -> None:
    boto3.client("iam", region_name=REGION).create_open_id_connect_provider(
        Url="https://token.actions.githubusercontent.com",
        ClientIDList=["sts.amazonaws.com"],
        ThumbprintList=["6938fd4d98bab03faadb97b34396831e3780aea1"],
    )


def test_passing_account(aws_env):
    res = runner.invoke(app, ["doctor", "--level", "2", "--github", "acme/fraud", "--region", REGION, "--json"])
    assert res.exit_code == 0, res.output
    checks = _checks(res)
    assert json.loads(res.stdout)["ok"] is True
    assert checks["credentials"]["status"] == "pass" and ACCOUNT in checks["credentials"]["detail"]
    assert checks["region"]["status"] == "pass"
    assert checks["state bucket"]["status"] == "pass"
    assert f"mlops-demo-pulumi-{ACCOUNT}-{REGION}" in checks["state bucket"]["detail"]
    assert checks["GitHub OIDC provider"] == {
        "name": "GitHub OIDC provider",
        "status": "pass",
        "detail": "absent; the stack creates it",
        "fix": None,
    }
    # moto has neither policy simulation nor SageMaker quotas: said, not assumed.
    assert checks["permissions"]["status"] == "could not verify"
    assert "SimulatePrincipalPolicy" in checks["permissions"]["detail"]
    quotas = [c for name, c in checks.items() if name.startswith("quota: ")]
    assert {c["name"] for c in quotas} == {
        "quota: ml.t3.medium for notebook instance usage",
        "quota: ml.m5.large for training job usage",
    }
    assert all(c["status"] == "could not verify" for c in quotas)


def test_table_output_marks_each_check(aws_env):
    _github_provider()
    res = runner.invoke(app, ["doctor", "--level", "1", "--github", "acme/fraud", "--region", REGION])
    assert res.exit_code == 1
    assert "✓" in res.stdout and "✗" in res.stdout and "?" in res.stdout
    row = next(line for line in res.stdout.splitlines() if "GitHub OIDC" in line)
    assert row.startswith("│ ✗ ")
    assert "oidc_provider_arn" in res.stdout


def test_taken_bucket_name_fails(aws_env):
    creds = boto3.client("sts", region_name=REGION).assume_role(
        RoleArn="arn:aws:iam::111111111111:role/other", RoleSessionName="other"
    )["Credentials"]
    boto3.client(
        "s3",
        region_name=REGION,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    ).create_bucket(Bucket="popular-name", CreateBucketConfiguration={"LocationConstraint": REGION})
    res = runner.invoke(app, ["doctor", "--level", "0", "--region", REGION, "--bucket", "popular-name", "--json"])
    assert res.exit_code == 1
    check = _checks(res)["state bucket"]
    assert check["status"] == "fail" and "belongs to another account" in check["detail"]
    assert "--bucket NAME" in check["fix"]


def test_own_bucket_passes(aws_env):
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket="our-state", CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    report = doctor(connect(region=REGION), make_blueprint(0, region=REGION, state_bucket="our-state"))
    check = next(c for c in report.checks if c.name == "state bucket")
    assert (check.status, check.detail) == (Status.PASS, "s3://our-state exists in this account")


def test_no_credentials_is_one_line_and_exit_2(no_credentials):
    res = runner.invoke(app, ["doctor", "--level", "0", "--region", REGION, "--json"])
    assert res.exit_code == 2
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: no AWS credentials found: run `aws configure`")
    assert res.stdout == "" and "Traceback" not in res.output


def test_existing_github_provider(aws_env):
    _github_provider()
    unset = doctor(connect(region=REGION), make_blueprint(1, region=REGION))
    check = next(c for c in unset.checks if c.name == "GitHub OIDC provider")
    assert check.status is Status.FAIL and check.fix == f"set `oidc_provider_arn: {GITHUB_PROVIDER}` in mlops-bp.yaml"
    reused = doctor(connect(region=REGION), make_blueprint(1, region=REGION, oidc_provider_arn=GITHUB_PROVIDER))
    assert next(c for c in reused.checks if c.name == "GitHub OIDC provider").status is Status.PASS
    assert reused.ok


def test_missing_github_provider_that_the_blueprint_names(aws_env):
    report = doctor(connect(region=REGION), make_blueprint(1, region=REGION, oidc_provider_arn=GITHUB_PROVIDER))
    check = next(c for c in report.checks if c.name == "GitHub OIDC provider")
    assert check.status is Status.FAIL and "does not exist" in check.detail
    assert not report.ok


def test_required_actions_follow_the_plans_resource_types():
    level0, level4 = set(required_actions(make_blueprint(0))), set(required_actions(make_blueprint(4)))
    assert level0 < level4
    assert {"sagemaker:CreateMonitoringSchedule", "application-autoscaling:RegisterScalableTarget"} <= level4 - level0
    assert all(":" in a and "*" not in a for a in level4)
    on_kubernetes = required_actions(make_blueprint(4, "kubernetes"))
    assert not [a for a in on_kubernetes if a.startswith("sagemaker:")]
    assert "ecr:CreateRepository" in on_kubernetes


def test_quota_needs_follow_the_spec():
    assert quota_needs(make_blueprint(0)) == [("ml.t3.medium for notebook instance usage", 1)]
    level3 = make_blueprint(3, training={"instance_type": "ml.c5.xlarge", "instance_count": 2, "use_spot": True})
    assert dict(quota_needs(level3)) == {
        "ml.t3.medium for notebook instance usage": 1,
        "ml.c5.xlarge for spot training job usage": 2,
        # prod is real-time (staging serverless): one variant, one instance, twice during blue/green
        "ml.t2.medium for endpoint usage": 2,
    }
    assert dict(quota_needs(make_blueprint(4)))["ml.t2.medium for endpoint usage"] == 4 * 2  # max_capacity
    two = [{"name": "champion", "weight": 0.8}, {"name": "challenger", "weight": 0.2}]
    assert dict(quota_needs(make_blueprint(3, serving={"variants": two})))["ml.t2.medium for endpoint usage"] == 4
    assert quota_needs(make_blueprint(4, "kubernetes")) == []


def test_missing_quota_fails_with_the_increase_command():
    # moto lists no SageMaker quotas, so the comparison is tested on Service Quotas' own shape.
    quotas = {
        "ml.m5.large for endpoint usage": {
            "QuotaName": "ml.m5.large for endpoint usage",
            "QuotaCode": "L-D2BC5E3D",
            "Value": 0.0,
        },
        "ml.t3.medium for notebook instance usage": {"QuotaCode": "L-1", "Value": 4.0},
    }
    checks = quota_checks(
        [
            ("ml.m5.large for endpoint usage", 4),
            ("ml.t3.medium for notebook instance usage", 1),
            ("ml.p5.48xlarge for training job usage", 1),
        ],
        quotas,
        REGION,
    )
    assert [c.status for c in checks] == [Status.FAIL, Status.PASS, Status.UNVERIFIED]
    assert checks[0].detail == "0 available, 4 needed"
    assert checks[0].fix == (
        "aws service-quotas request-service-quota-increase --service-code sagemaker "
        f"--quota-code L-D2BC5E3D --desired-value 4 --region {REGION}"
    )


def test_denied_actions_from_a_simulation():
    results = [
        {"EvalActionName": "s3:CreateBucket", "EvalDecision": "allowed"},
        {"EvalActionName": "iam:CreateRole", "EvalDecision": "implicitDeny"},
        {"EvalActionName": "kms:CreateKey", "EvalDecision": "explicitDeny"},
    ]
    assert denied_actions(results) == ["iam:CreateRole", "kms:CreateKey"]


def test_gitlab_blueprints_check_the_gitlab_provider(aws_env) -> None:
    from mlops_bp.cli.account.doctor import _ci_oidc

    aws = connect(region="us-east-1")
    blueprint = make_blueprint(1, ci="gitlab")
    assert _ci_oidc(aws, blueprint).name == "GitLab OIDC provider"
    aws.client("iam").create_open_id_connect_provider(
        Url="https://gitlab.com", ClientIDList=["sts.amazonaws.com"], ThumbprintList=["a" * 40]
    )
    check = _ci_oidc(aws, blueprint)
    assert (
        check.status is Status.FAIL
        and check.fix == "set `oidc_provider_arn: arn:aws:iam::123456789012:oidc-provider/gitlab.com` in mlops-bp.yaml"
    )
