"""Sessions, retries and the one-line errors of the account commands (moto server over HTTP,
plus botocore's own error shapes for what moto cannot produce)."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError, NoCredentialsError
from typer.testing import CliRunner

from mlops_bp.blueprints import UserError
from mlops_bp.cli.account.session import (
    DEFAULT_MAX_ATTEMPTS,
    AwsAccessDenied,
    AwsCredentialsError,
    AwsError,
    connect,
    explain,
    retry_config,
)
from mlops_bp.cli.app import app

from .moto_server import REGION, _free_port

runner = CliRunner()


def _one_line_error(res, code: int) -> str:
    assert res.exit_code == code, res.output
    assert "Traceback" not in res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    return lines[0]


def test_region_typo_is_a_user_error(aws_env):
    with pytest.raises(UserError, match="'us-eats-1' is not an AWS region; did you mean us-east-1"):
        connect(region="us-eats-1")
    line = _one_line_error(runner.invoke(app, ["assess", "--region", "eu-wset-1"]), 2)
    assert "did you mean eu-west-1" in line


def test_region_comes_from_flag_then_blueprint_then_chain(aws_env):
    assert connect().region == REGION  # AWS_DEFAULT_REGION
    assert connect(default_region="us-east-2").region == "us-east-2"
    assert connect(region="ap-south-1", default_region="us-east-2").region == "ap-south-1"


def test_aws_region_is_honoured_like_the_aws_sdks_do(aws_env, monkeypatch):
    monkeypatch.setenv("AWS_REGION", "eu-central-1")  # boto3 reads only AWS_DEFAULT_REGION
    assert connect().region == "eu-central-1"
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    assert connect().region == "eu-central-1"
    res = runner.invoke(app, ["assess", "--json"])
    assert res.exit_code == 0, res.output
    assert '"region": "eu-central-1"' in res.stdout


def test_retry_config(monkeypatch):
    monkeypatch.delenv("AWS_MAX_ATTEMPTS", raising=False)
    monkeypatch.delenv("AWS_RETRY_MODE", raising=False)
    assert retry_config().retries == {"mode": "standard", "total_max_attempts": DEFAULT_MAX_ATTEMPTS}
    assert retry_config("adaptive", 9).retries == {"mode": "adaptive", "total_max_attempts": 9}
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "3")
    monkeypatch.setenv("AWS_RETRY_MODE", "adaptive")
    assert retry_config().retries == {"mode": "adaptive", "total_max_attempts": 3}
    with pytest.raises(UserError, match="retry mode: 'legacy' is not supported; one of standard, adaptive"):
        retry_config("legacy")


def test_clients_carry_the_retry_policy(aws_env):
    client = connect(retry_mode="adaptive", max_attempts=7).client("s3")
    assert client.meta.config.retries == {"mode": "adaptive", "total_max_attempts": 7}
    assert client.meta.region_name == REGION
    assert client.meta.endpoint_url == aws_env.url


def test_bad_retry_mode_on_the_cli(aws_env):
    line = _one_line_error(runner.invoke(app, ["assess", "--retry-mode", "fast"]), 2)
    assert "retry mode: 'fast' is not supported" in line


def test_unknown_profile(aws_env):
    line = _one_line_error(runner.invoke(app, ["assess", "--profile", "nope"]), 2)
    assert "profile: 'nope' is not in the AWS config files" in line


@pytest.mark.parametrize("command", [["bootstrap", "--name", "fraud-detect"], ["assess"]])
def test_no_credentials(no_credentials, command):
    line = _one_line_error(runner.invoke(app, command), 2)
    assert "no AWS credentials found: run `aws configure` or `aws sso login`" in line


def test_unreachable_endpoint(aws_env, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{_free_port()}")
    line = _one_line_error(runner.invoke(app, ["assess"]), 1)
    assert "sts:GetCallerIdentity: cannot reach" in line and "AWS_ENDPOINT_URL" in line


@pytest.fixture
def limited_user(aws_env, monkeypatch):
    """An IAM user that may only read its identity, with moto enforcing IAM like AWS does."""
    iam = boto3.client("iam", region_name=REGION)
    iam.create_user(UserName="limited")
    iam.put_user_policy(
        UserName="limited",
        PolicyName="whoami",
        PolicyDocument=(
            '{"Version": "2012-10-17", "Statement": '
            '[{"Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"}]}'
        ),
    )
    key = iam.create_access_key(UserName="limited")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    aws_env.enforce_iam(True)
    yield
    aws_env.enforce_iam(False)


def test_access_denied(limited_user):
    line = _one_line_error(runner.invoke(app, ["bootstrap", "--name", "fraud-detect"]), 2)
    assert "s3:ListAllMyBuckets: access denied; grant it to this identity or use another --profile" in line


def test_invalid_access_key(limited_user, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAUNKNOWNKEY000000")
    line = _one_line_error(runner.invoke(app, ["bootstrap", "--name", "fraud-detect"]), 2)
    assert "the AWS credentials are not valid (InvalidClientTokenId)" in line


def _client_error(code: str, status: int = 400, retries: int = 0) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": f"{code} happened"},
            "ResponseMetadata": {"HTTPStatusCode": status, "RetryAttempts": retries},
        },
        "AnyOperation",
    )


@pytest.mark.parametrize(
    ("exc", "kind", "text"),
    [
        (NoCredentialsError(), AwsCredentialsError, "no AWS credentials found"),
        (_client_error("ExpiredToken", 403), AwsCredentialsError, "the AWS credentials have expired"),
        (_client_error("ExpiredTokenException", 400), AwsCredentialsError, "the AWS credentials have expired"),
        (_client_error("AccessDenied", 403), AwsAccessDenied, "kms:CreateKey: access denied"),
        (
            _client_error("ThrottlingException", 400, retries=4),
            AwsError,
            "kms:CreateKey: AWS is still throttling after 5 attempts; wait a minute and rerun",
        ),
        (_client_error("SlowDown", 503, retries=2), AwsError, "still throttling after 3 attempts"),
        (_client_error("LimitExceededException"), AwsError, "kms:CreateKey: LimitExceededException: LimitExceeded"),
    ],
)
def test_error_translation(exc, kind, text):
    error = explain(exc, "kms:CreateKey")
    assert type(error) is kind
    assert text in str(error) and "\n" not in str(error)
