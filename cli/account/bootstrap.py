"""`bootstrap`: what Pulumi needs before the first `pulumi up` — an S3 state bucket and a KMS key
for Pulumi secrets — created idempotently, never deleted, and written into a generated repo's
Pulumi config."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import botocore.exceptions as bx
import yaml

from mlops_bp.blueprints import BLUEPRINT_FILENAME, MlopsBpError, UserError
from mlops_bp.blueprints.constants import StateKeys, ci_role_pattern, secrets_alias

from .buckets import BUCKET_SETTINGS, BucketOwner, bucket_owner, bucket_region, missing_settings, validate_bucket_name
from .session import Aws, aws_errors, error_code, explain

if TYPE_CHECKING:
    from mlops_bp.blueprints import Blueprint

__all__ = [
    "BOOTSTRAP_TAG",
    "BootstrapReport",
    "backend_url",
    "bootstrap",
    "environment_grants",
    "is_generated_repo",
    "secrets_alias",
    "secrets_provider_url",
    "set_top_level_key",
    "state_bucket_name",
    "write_repo_config",
]

# Marks what bootstrap itself created: those resources it may complete after an interrupted
# run; anything else it only reports.
BOOTSTRAP_TAG = "mlops-bp:bootstrap"


def state_bucket_name(project: str, account: str, region: str) -> str:
    """`<project>-pulumi-<account>-<region>`, the project shortened so the name fits S3's 63."""
    tail = f"-pulumi-{account}-{region}"
    return f"{project[: 63 - len(tail)].rstrip('-.')}{tail}"


def backend_url(bucket: str, region: str) -> str:
    return f"s3://{bucket}?region={region}&awssdk=v2"


def secrets_provider_url(alias: str, region: str) -> str:
    return f"awskms://{alias}?region={region}"


@dataclass
class BootstrapReport:
    project: str
    account: str
    region: str
    bucket: str
    alias: str
    key_arn: str = ""
    created: list[str] = field(default_factory=list)
    completed: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    @property
    def backend_url(self) -> str:
        return backend_url(self.bucket, self.region)

    @property
    def secrets_provider(self) -> str:
        return secrets_provider_url(self.alias, self.region)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.completed or self.files)

    def login_command(self, profile: str | None = None) -> str:
        url = self.backend_url + (f"&profile={profile}" if profile else "")
        return f"pulumi login '{url}'"

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "backend_url": self.backend_url,
            "secrets_provider": self.secrets_provider,
            "changed": self.changed,
        }


def _tags(project: str) -> dict[str, str]:
    return {BOOTSTRAP_TAG: project, "managed-by": "mlops-bp"}


def _ensure_key(aws: Aws, report: BootstrapReport) -> None:
    kms = aws.client("kms")
    try:
        meta = kms.describe_key(KeyId=report.alias)["KeyMetadata"]
    except bx.ClientError as exc:
        if error_code(exc) != "NotFoundException":
            raise explain(exc, "kms:DescribeKey") from None
        meta = None
    except bx.BotoCoreError as exc:
        raise explain(exc, "kms:DescribeKey") from None
    if meta is None:
        with aws_errors("kms:CreateKey"):
            meta = kms.create_key(
                Description=f"Pulumi secrets of {report.project} (mlops-bp bootstrap)",
                Tags=[{"TagKey": k, "TagValue": v} for k, v in _tags(report.project).items()],
            )["KeyMetadata"]
        report.key_arn = meta["Arn"]
        report.created.append(f"KMS key {meta['KeyId']}")
        with aws_errors("kms:CreateAlias"):
            kms.create_alias(AliasName=report.alias, TargetKeyId=meta["KeyId"])
        report.created.append(f"key alias {report.alias}")
        with aws_errors("kms:EnableKeyRotation"):
            kms.enable_key_rotation(KeyId=meta["KeyId"])
        report.created.append("key rotation on")
        return
    report.key_arn = meta["Arn"]
    if meta.get("KeyState") != "Enabled":
        raise UserError(
            f"key: {report.alias} points to key {meta['KeyId']} in state {meta.get('KeyState')}; enable it "
            "(`aws kms enable-key`, or `aws kms cancel-key-deletion` first) and rerun"
        )
    report.existing.append(f"KMS key {meta['KeyId']} ({report.alias})")
    with aws_errors("kms:GetKeyRotationStatus"):
        rotating = kms.get_key_rotation_status(KeyId=meta["KeyId"])["KeyRotationEnabled"]
    if rotating:
        return
    with aws_errors("kms:ListResourceTags"):
        tags = {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=meta["KeyId"]).get("Tags", [])}
    if tags.get(BOOTSTRAP_TAG) == report.project:
        with aws_errors("kms:EnableKeyRotation"):
            kms.enable_key_rotation(KeyId=meta["KeyId"])
        report.completed.append("key rotation on")
    else:
        report.findings.append(
            f"key {report.alias}: rotation is off; fix: aws kms enable-key-rotation --key-id {meta['KeyId']}"
        )


def _bucket_tags(aws: Aws, bucket: str) -> dict[str, str]:
    try:
        tag_set = aws.client("s3").get_bucket_tagging(Bucket=bucket).get("TagSet", [])
    except bx.ClientError as exc:
        if error_code(exc) == "NoSuchTagSet":
            return {}
        raise explain(exc, "s3:GetBucketTagging") from None
    return {t["Key"]: t["Value"] for t in tag_set}


def _taken(bucket: str) -> UserError:
    return UserError(f"bucket: {bucket!r} belongs to another AWS account; choose another name with --bucket")


def _create_bucket(aws: Aws, report: BootstrapReport) -> None:
    s3 = aws.client("s3")
    params: dict[str, Any] = {"Bucket": report.bucket}
    if report.region != "us-east-1":  # us-east-1 rejects an explicit LocationConstraint
        params["CreateBucketConfiguration"] = {"LocationConstraint": report.region}
    try:
        s3.create_bucket(**params)
    except bx.ClientError as exc:
        if error_code(exc) == "BucketAlreadyExists":
            raise _taken(report.bucket) from None
        raise explain(exc, "s3:CreateBucket") from None
    report.created.append(f"bucket s3://{report.bucket}")
    with aws_errors("s3:PutBucketTagging"):
        s3.put_bucket_tagging(
            Bucket=report.bucket, Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in _tags(report.project).items()]}
        )
    for setting in BUCKET_SETTINGS:
        with aws_errors(setting.action):
            setting.apply(s3, report.bucket, report.key_arn)
        report.created.append(f"bucket {setting.name}")


def _check_bucket(aws: Aws, report: BootstrapReport) -> None:
    """An existing bucket of this account: complete it when bootstrap made it, else only report."""
    region = bucket_region(aws, report.bucket)
    if region != report.region:
        raise UserError(
            f"bucket: s3://{report.bucket} is in {region}, not {report.region}; rerun with --region {region} "
            "or choose another name with --bucket"
        )
    report.existing.append(f"bucket s3://{report.bucket}")
    missing = missing_settings(aws, report.bucket)
    ours = _bucket_tags(aws, report.bucket).get(BOOTSTRAP_TAG) == report.project
    for setting in missing:
        if ours:
            with aws_errors(setting.action):
                setting.apply(aws.client("s3"), report.bucket, report.key_arn)
            report.completed.append(f"bucket {setting.name}")
        else:
            report.findings.append(
                f"bucket s3://{report.bucket}: {setting.name} is missing (left unchanged); fix: "
                f"{setting.fix(report.bucket, report.key_arn)}"
            )


def bootstrap(aws: Aws, project: str, bucket: str | None = None, blueprint: Blueprint | None = None) -> BootstrapReport:
    """Create (or find) the Pulumi state bucket and secrets key. Nothing is deleted or silently
    changed; on failure the error names what was created before it. With a blueprint of one
    account per environment, the other accounts' CI roles get their own stacks' state."""
    account = aws.identity.account
    name = validate_bucket_name(bucket or state_bucket_name(project, account, aws.region))
    report = BootstrapReport(project, account, aws.region, name, secrets_alias(project))
    # Decide about the bucket before creating anything, so a taken name leaves nothing behind.
    owner = bucket_owner(aws, name)
    if owner is BucketOwner.TAKEN:
        raise _taken(name)
    try:
        _ensure_key(aws, report)
        if owner is BucketOwner.AVAILABLE:
            _create_bucket(aws, report)
        else:
            _check_bucket(aws, report)
        if blueprint is not None and blueprint.cross_account:
            grant_environments(aws, report, blueprint)
    except MlopsBpError as exc:
        if report.created or report.completed:
            done = ", ".join(report.created + report.completed)
            raise type(exc)(f"{exc} (already done: {done}; rerun to finish, nothing is created twice)") from None
        raise
    return report


# -- one account per environment ------------------------------------------------------------

# Statements bootstrap owns in the state bucket's and the secrets key's policies, by Sid prefix:
# replaced on every run, so a changed blueprint changes them; others' statements stay.
GRANT_SID = "MlopsBpEnv"


def environment_grants(bucket: str, blueprint: Blueprint, account: str) -> tuple[list, list]:
    """(bucket statements, key statements) letting the CI roles of environments in other
    accounts use their own stack's state and the secrets key — exact accounts, role names by
    pattern, one stack's keys each."""
    bucket_statements: list[dict[str, Any]] = []
    key_statements: list[dict[str, Any]] = []
    for env in blueprint.environments:
        if not env.account or env.account == account:
            continue
        sid = f"{GRANT_SID}{env.name.capitalize()}"
        principal = {"AWS": f"arn:aws:iam::{env.account}:root"}
        roles = [
            f"arn:aws:iam::{env.account}:role/{ci_role_pattern(blueprint.name, env.name, preview=preview)}"
            for preview in (False, True)
        ]
        only_ci = {"ArnLike": {"aws:PrincipalArn": roles}}
        keys = StateKeys(bucket, blueprint.name, env.name)
        bucket_statements += [
            {
                "Sid": f"{sid}List",
                "Effect": "Allow",
                "Principal": principal,
                "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
                "Resource": f"arn:aws:s3:::{bucket}",
                "Condition": {**only_ci, "StringLike": {"s3:prefix": [".pulumi/*"]}},
            },
            {
                "Sid": f"{sid}State",
                "Effect": "Allow",
                "Principal": principal,
                "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                "Resource": [keys.meta, *keys.all],
                "Condition": only_ci,
            },
        ]
        key_statements.append(
            {
                "Sid": f"{sid}Secrets",
                "Effect": "Allow",
                "Principal": principal,
                "Action": ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                "Resource": "*",
                "Condition": only_ci,
            }
        )
    return bucket_statements, key_statements


def _merged(document: dict[str, Any], statements: list[dict[str, Any]]) -> dict[str, Any]:
    kept = document.get("Statement", [])
    kept = [kept] if isinstance(kept, dict) else list(kept)
    kept = [st for st in kept if not str(st.get("Sid", "")).startswith(GRANT_SID)]
    return {**document, "Statement": kept + statements}


def grant_environments(aws: Aws, report: BootstrapReport, blueprint: Blueprint) -> None:
    """Write `environment_grants` into the bucket and key policies (idempotent)."""
    bucket_statements, key_statements = environment_grants(report.bucket, blueprint, report.account)
    s3, kms = aws.client("s3"), aws.client("kms")
    with aws_errors("s3:GetBucketPolicy"):
        try:
            current = json.loads(s3.get_bucket_policy(Bucket=report.bucket)["Policy"])
        except bx.ClientError as exc:
            if error_code(exc) != "NoSuchBucketPolicy":
                raise
            current = {"Version": "2012-10-17", "Statement": []}
    wanted = _merged(current, bucket_statements)
    if wanted != current:
        with aws_errors("s3:PutBucketPolicy"):
            s3.put_bucket_policy(Bucket=report.bucket, Policy=json.dumps(wanted))
        report.completed.append(f"bucket policy: state of {len(bucket_statements) // 2} other account(s)' stacks")
    with aws_errors("kms:GetKeyPolicy"):
        key_policy = json.loads(kms.get_key_policy(KeyId=report.key_arn, PolicyName="default")["Policy"])
    wanted_key = _merged(key_policy, key_statements)
    if wanted_key != key_policy:
        with aws_errors("kms:PutKeyPolicy"):
            kms.put_key_policy(KeyId=report.key_arn, PolicyName="default", Policy=json.dumps(wanted_key))
        report.completed.append(f"key policy: secrets of {len(key_statements)} other account(s)' stacks")


# -- the generated repo's Pulumi config ------------------------------------------------------


def is_generated_repo(path: Path) -> bool:
    return (path / BLUEPRINT_FILENAME).is_file() and (path / "infra" / "Pulumi.yaml").is_file()


def set_top_level_key(text: str, key: str, value: Any) -> str:
    """`text` (YAML) with the top-level `key` set to `value`; other lines, comments included, stay."""
    block = yaml.safe_dump({key: value}, sort_keys=False, default_flow_style=False, width=1000)
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if re.match(rf"{re.escape(key)}\s*:", line)), None)
    if start is None:
        return (text if not text or text.endswith("\n") else text + "\n") + block
    end = start + 1
    while end < len(lines) and (lines[end][:1] in (" ", "\t") or not lines[end].strip()):
        end += 1
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1
    return "".join(lines[:start]) + block + "".join(lines[end:])


def _write_if_changed(path: Path, text: str, report: BootstrapReport) -> None:
    old = path.read_text(encoding="utf-8") if path.exists() else None
    if old != text:
        path.write_text(text, encoding="utf-8")
        report.files.append(str(path))


def write_repo_config(repo: Path, report: BootstrapReport, environments: list[str]) -> None:
    """Point a generated repo at the state bucket and secrets key: `backend.url` in
    infra/Pulumi.yaml, `secretsprovider` in each infra/Pulumi.<env>.yaml, `state_bucket` in
    mlops-bp.yaml. A stack already using another secrets provider is reported, not switched
    (its secrets would no longer decrypt)."""
    project_file = repo / "infra" / "Pulumi.yaml"
    text = project_file.read_text(encoding="utf-8")
    _write_if_changed(project_file, set_top_level_key(text, "backend", {"url": report.backend_url}), report)
    for env in environments:
        stack_file = repo / "infra" / f"Pulumi.{env}.yaml"
        text = stack_file.read_text(encoding="utf-8") if stack_file.exists() else ""
        current = (yaml.safe_load(text) or {}) if text else {}
        if not isinstance(current, dict):
            raise UserError(f"{stack_file}: expected a mapping of stack settings")
        other = current.get("secretsprovider")
        if (other and other != report.secrets_provider) or (not other and "encryptionsalt" in current):
            report.findings.append(
                f"{stack_file}: stack {env} uses another secrets provider (left unchanged); switch with: "
                f"pulumi stack change-secrets-provider --stack {env} '{report.secrets_provider}'"
            )
            continue
        _write_if_changed(stack_file, set_top_level_key(text, "secretsprovider", report.secrets_provider), report)
    blueprint_file = repo / BLUEPRINT_FILENAME
    text = blueprint_file.read_text(encoding="utf-8")
    if (yaml.safe_load(text) or {}).get("state_bucket") != report.bucket:
        _write_if_changed(blueprint_file, set_top_level_key(text, "state_bucket", report.bucket), report)
