"""`bootstrap` against a real moto server: what it creates, idempotency, weaker pre-existing
buckets, taken names, and writing a generated repo's Pulumi config."""

from __future__ import annotations

import json

import boto3
import pytest
import yaml
from typer.testing import CliRunner

from mlops_bp.blueprints import UserError, load_blueprint, save_blueprint
from mlops_bp.cli.account.bootstrap import (
    BOOTSTRAP_TAG,
    bootstrap,
    set_top_level_key,
    state_bucket_name,
)
from mlops_bp.cli.account.session import connect
from mlops_bp.cli.app import app

from .conftest import make_blueprint
from .moto_server import ACCOUNT, REGION

runner = CliRunner()
BUCKET = f"fraud-detect-pulumi-{ACCOUNT}-{REGION}"
ALIAS = "alias/fraud-detect-pulumi-secrets"


def _s3():
    return boto3.client("s3", region_name=REGION)


def _kms():
    return boto3.client("kms", region_name=REGION)


def _customer_aliases() -> list[str]:
    return [a["AliasName"] for a in _kms().list_aliases()["Aliases"] if not a["AliasName"].startswith("alias/aws/")]


def test_bucket_name_fits_s3_limits():
    assert state_bucket_name("fraud-detect", ACCOUNT, REGION) == BUCKET
    long = state_bucket_name("a" * 38 + "-b", ACCOUNT, "ap-southeast-4")
    assert len(long) == 63 and long.endswith(f"-pulumi-{ACCOUNT}-ap-southeast-4")
    assert not state_bucket_name("abcdefghijklmnopqrstuvwxyzabcdefghij-x", ACCOUNT, "ap-southeast-4").startswith("-")


def test_creates_bucket_and_key_with_expected_settings(aws_env):
    report = bootstrap(connect(), "fraud-detect")
    s3, kms = _s3(), _kms()
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == [BUCKET]
    assert _customer_aliases() == [ALIAS]
    key = kms.describe_key(KeyId=ALIAS)["KeyMetadata"]
    assert key["KeyState"] == "Enabled" and report.key_arn == key["Arn"]
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is True
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
    rule = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key["Arn"]}
    block = s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"]
    assert all(block.values()) and len(block) == 4
    statement = json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"])["Statement"][0]
    assert statement["Effect"] == "Deny"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=BUCKET)["TagSet"]}
    assert tags[BOOTSTRAP_TAG] == "fraud-detect"
    assert report.backend_url == f"s3://{BUCKET}?region={REGION}&awssdk=v2"
    assert report.secrets_provider == f"awskms://{ALIAS}?region={REGION}"
    assert report.changed and not report.findings


def test_second_run_changes_nothing(aws_env):
    first = bootstrap(connect(), "fraud-detect")
    policy = _s3().get_bucket_policy(Bucket=BUCKET)["Policy"]
    second = bootstrap(connect(), "fraud-detect")
    assert not second.changed and second.created == [] and second.completed == []
    assert second.key_arn == first.key_arn and second.bucket == first.bucket
    assert len(_kms().list_keys()["Keys"]) == 1
    assert _s3().get_bucket_policy(Bucket=BUCKET)["Policy"] == policy
    res = runner.invoke(app, ["bootstrap", "--name", "fraud-detect"])
    assert res.exit_code == 0, res.output
    assert "nothing to change" in res.stdout
    assert f"pulumi login 's3://{BUCKET}?region={REGION}&awssdk=v2'" in res.stdout
    assert f"--secrets-provider 'awskms://{ALIAS}?region={REGION}'" in res.stdout


def test_weaker_existing_bucket_is_reported_not_changed(aws_env):
    s3 = _s3()
    s3.create_bucket(Bucket="team-state", CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_policy(
        Bucket="team-state",
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "Team",
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                        "Action": "s3:GetObject",
                        "Resource": "arn:aws:s3:::team-state/*",
                    }
                ],
            }
        ),
    )
    res = runner.invoke(app, ["bootstrap", "--name", "fraud-detect", "--bucket", "team-state", "--json"])
    assert res.exit_code == 1
    data = json.loads(res.stdout)
    assert data["existing"][-1] == "bucket s3://team-state"
    missing = " ".join(data["findings"])
    for setting in (
        "public access blocked",
        "versioning enabled",
        "SSE-KMS default encryption",
        "TLS-only bucket policy",
    ):
        assert setting in missing
    assert "put-bucket-versioning --bucket team-state" in missing
    assert "left unchanged" in res.stderr
    # Untouched: no versioning, the team's policy alone.
    assert "Status" not in s3.get_bucket_versioning(Bucket="team-state")
    assert [st["Sid"] for st in json.loads(s3.get_bucket_policy(Bucket="team-state")["Policy"])["Statement"]] == [
        "Team"
    ]


def test_interrupted_run_is_completed(aws_env):
    s3 = _s3()
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_tagging(Bucket=BUCKET, Tagging={"TagSet": [{"Key": BOOTSTRAP_TAG, "Value": "fraud-detect"}]})
    report = bootstrap(connect(), "fraud-detect")
    assert "bucket versioning enabled" in report.completed and not report.findings
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"


def test_taken_bucket_name_creates_nothing(aws_env):
    creds = boto3.client("sts", region_name=REGION).assume_role(
        RoleArn="arn:aws:iam::111111111111:role/other", RoleSessionName="other"
    )["Credentials"]
    other = boto3.client(
        "s3",
        region_name=REGION,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )
    other.create_bucket(Bucket="someone-elses", CreateBucketConfiguration={"LocationConstraint": REGION})
    with pytest.raises(UserError, match="belongs to another AWS account; choose another name with --bucket"):
        bootstrap(connect(), "fraud-detect", bucket="someone-elses")
    assert _customer_aliases() == []
    res = runner.invoke(app, ["bootstrap", "--name", "fraud-detect", "--bucket", "someone-elses"])
    assert res.exit_code == 2
    assert "Traceback" not in res.output and res.stderr.count("\n") == 1


def test_invalid_bucket_name(aws_env):
    res = runner.invoke(app, ["bootstrap", "--name", "fraud-detect", "--bucket", "Bad_Name"])
    assert res.exit_code == 2
    assert "is not a valid S3 bucket name" in res.stderr


def test_needs_a_project_name(aws_env, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = runner.invoke(app, ["bootstrap"])
    assert res.exit_code == 2 and "give --name PROJECT" in res.stderr


def _generated_repo(path, level=3):
    save_blueprint(make_blueprint(level, region=REGION), path / "mlops-bp.yaml")
    (path / "infra").mkdir()
    (path / "infra" / "Pulumi.yaml").write_text(
        "# the team's infra project\nname: fraud-detect\nruntime:\n  name: python\n"
        "backend:\n  url: file://~\ndescription: fraud infra\n",
        encoding="utf-8",
    )
    (path / "infra" / "Pulumi.prod.yaml").write_text("encryptionsalt: v1:abc\nconfig:\n  aws:region: eu-west-1\n")


def test_writes_the_generated_repos_pulumi_config(aws_env, tmp_path, monkeypatch):
    _generated_repo(tmp_path)
    monkeypatch.chdir(tmp_path)
    res = runner.invoke(app, ["bootstrap"])
    # prod already has passphrase secrets: reported, not switched
    assert res.exit_code == 1, res.output
    assert "stack prod uses another secrets provider" in res.stderr
    assert "pulumi stack change-secrets-provider --stack prod" in res.stderr
    project = (tmp_path / "infra" / "Pulumi.yaml").read_text()
    assert project.startswith("# the team's infra project\nname: fraud-detect\n")
    assert yaml.safe_load(project)["backend"] == {"url": f"s3://{BUCKET}?region={REGION}&awssdk=v2"}
    assert yaml.safe_load(project)["description"] == "fraud infra"
    for env in ("dev", "staging"):
        stack = yaml.safe_load((tmp_path / "infra" / f"Pulumi.{env}.yaml").read_text())
        assert stack == {"secretsprovider": f"awskms://{ALIAS}?region={REGION}"}
    assert (tmp_path / "infra" / "Pulumi.prod.yaml").read_text().startswith("encryptionsalt: v1:abc\n")
    assert load_blueprint(tmp_path / "mlops-bp.yaml").state_bucket == BUCKET
    before = {p.name: p.read_text() for p in (tmp_path / "infra").iterdir()}
    again = runner.invoke(app, ["bootstrap", "--json"])
    assert json.loads(again.stdout)["files"] == [] and json.loads(again.stdout)["changed"] is False
    assert {p.name: p.read_text() for p in (tmp_path / "infra").iterdir()} == before


def test_set_top_level_key_replaces_only_that_block():
    text = "# keep me\nname: x\nbackend:\n  url: file://~\n\n  # inner\nother: 1\n"
    assert (
        set_top_level_key(text, "backend", {"url": "s3://b"})
        == "# keep me\nname: x\nbackend:\n  url: s3://b\nother: 1\n"
    )
    assert set_top_level_key("name: x", "secretsprovider", "awskms://alias/a") == (
        "name: x\nsecretsprovider: awskms://alias/a\n"
    )
    assert set_top_level_key("", "state_bucket", "b") == "state_bucket: b\n"


def test_one_account_per_environment_grants_each_other_accounts_ci_its_own_stack(aws_env):
    """Bootstrap runs with the primary's credentials: the state bucket and secrets key let the
    CI roles of staging's and prod's accounts use their own stacks' state, nothing else."""
    blueprint = make_blueprint(
        3,
        name="fraud-detect",
        region=REGION,
        state_bucket=BUCKET,
        environments=[
            {"name": "dev", "account": ACCOUNT},
            {"name": "staging", "account": "222222222222"},
            {"name": "prod", "account": "333333333333", "endpoint": "realtime"},
        ],
    )
    aws = connect(region=REGION)
    report = bootstrap(aws, "fraud-detect", blueprint=blueprint)
    policy = json.loads(_s3().get_bucket_policy(Bucket=BUCKET)["Policy"])
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    prod = by_sid["MlopsBpEnvProdState"]
    assert prod["Principal"] == {"AWS": "arn:aws:iam::333333333333:root"}
    assert prod["Condition"]["ArnLike"]["aws:PrincipalArn"] == [
        "arn:aws:iam::333333333333:role/fraud-detect-prod-ci-role-*",
        "arn:aws:iam::333333333333:role/fraud-detect-prod-ci-preview-role-*",
    ]
    assert all("/prod" in r or r.endswith("/meta.yaml") for r in prod["Resource"]), (
        "prod's CI reaches prod's state only"
    )
    assert f"arn:aws:s3:::{BUCKET}/.pulumi/stacks/fraud-detect/prod.json*" in prod["Resource"]
    assert "MlopsBpEnvDevState" not in by_sid  # the primary's own account uses IAM policies
    assert any(s.get("Sid") == "DenyInsecureTransport" or s.get("Effect") == "Deny" for s in policy["Statement"])
    key = json.loads(_kms().get_key_policy(KeyId=report.key_arn, PolicyName="default")["Policy"])
    secrets = {s["Sid"] for s in key["Statement"] if s.get("Sid", "").startswith("MlopsBpEnv")}
    assert secrets == {"MlopsBpEnvStagingSecrets", "MlopsBpEnvProdSecrets"}
    assert any(s.get("Principal", {}).get("AWS", "").endswith(f"{ACCOUNT}:root") for s in key["Statement"])
    # A second run changes nothing.
    again = bootstrap(connect(region=REGION), "fraud-detect", blueprint=blueprint)
    assert again.created == [] and again.completed == []
    assert json.loads(_s3().get_bucket_policy(Bucket=BUCKET)["Policy"]) == policy


def test_one_account_for_all_environments_grants_nothing(aws_env):
    blueprint = make_blueprint(3, name="fraud-detect", region=REGION, state_bucket=BUCKET)
    bootstrap(connect(region=REGION), "fraud-detect", blueprint=blueprint)
    policy = json.loads(_s3().get_bucket_policy(Bucket=BUCKET)["Policy"])
    assert not [s for s in policy["Statement"] if s.get("Sid", "").startswith("MlopsBpEnv")]
