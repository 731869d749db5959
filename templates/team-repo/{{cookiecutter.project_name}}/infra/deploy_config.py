{%- set first = cookiecutter._environments[0].name -%}
{%- set level = cookiecutter.level|int -%}
{%- set registry = level >= 2 and cookiecutter.platform == "sagemaker" -%}
"""Pin what a deploy serves, checked against AWS, as the stack config of one environment.

    python infra/deploy_config.py --stack ENV --image-tag GIT_SHA [--model-package-arn ARN]

Both CI systems' deploy jobs run it before `pulumi up` (the Pulumi program reads the keys),
with the environment's own CI role. Every environment but the first serves only what
`mlops-bp promote` copied into it, so everything is looked up in the environment's own
image repository (`{{ cookiecutter.project_name }}-<env>`) and registry:
- `mlops-bp:imageTag`: the commit whose images CI pushed (promotion copies them on). The
  serving image `<repository>:<sha>` must exist{% if level >= 2 %}; in the first environment also the training image
  `<repository>:train-<sha>`, which scheduled and drift-started training runs use{% endif %}.
{%- if registry %}
- `mlops-bp:modelPackageArn` / `modelVersion`: the approval's model package (untrusted input from
  an event), else the latest approved one. It must be in this environment's registry
  (`{{ cookiecutter.project_name }}-<env>-models`) of this account, and Approved.
- `mlops-bp:modelDigests`: {package ARN: sha256 of its model file} as recorded at registration;
  the serving container refuses a model file that differs.
{%- endif %}
{%- if registry and level >= 4 %}
- `mlops-bp:baselineUri`: the package's drift-check baseline (statistics.json and
  constraints.json), which data-quality monitoring compares live traffic against.
{%- endif %}
- `mlops-bp:gitSha`: tags the serving resources with the deployed commit.
`--print` prints the config as JSON instead of setting it. Errors are one line, exit code 1.
"""

from __future__ import annotations

import argparse
import json
import posixpath
import re
import subprocess
import sys

import boto3
from botocore.exceptions import BotoCoreError, ClientError

PROJECT = "{{ cookiecutter.project_name }}"
FIRST_ENVIRONMENT = "{{ first }}"
# What this repo's level pins: training images (level 2+), an approved model package from the
# SageMaker registry (level 2+) and its monitoring baseline (level 4).
TRAINING_IMAGES = {{ level >= 2 }}
MODEL_REGISTRY = {{ registry }}
MONITORING_BASELINE = {{ registry and level >= 4 }}
# Recorded at registration (CustomerMetadataProperties) and carried along by promotion.
MODEL_DIGEST_KEY = "ModelSha256"
IMAGE_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,121}")
SHA256 = re.compile(r"[0-9a-f]{64}")
PACKAGE_ARN = re.compile(
    r"arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:(?P<account>\d{12}):model-package/"
    r"(?P<group>[A-Za-z0-9-]+)/(?P<version>\d+)"
)


def repository(stack: str) -> str:
    """The environment's image repository: CI pushes to the first's, promotion to the others'."""
    return f"{PROJECT}-{stack}"


def model_package_group(stack: str) -> str:
    """The environment's registry: the first's pipeline registers there, promotion elsewhere."""
    return f"{PROJECT}-{stack}-models"


class DeployError(Exception):
    """Something that must stop the deploy; the message says what and how to fix it."""


def check_images(ecr, stack: str, image_tag: str) -> None:
    """The images of `image_tag` are in the environment's repository (CI pushes them to the
    first environment's on main; `mlops-bp promote` copies them into the others')."""
    if not IMAGE_TAG.fullmatch(image_tag) or image_tag == "latest":
        raise DeployError(f"--image-tag: not a commit's image tag: {image_tag[:80]!r}")
    training = TRAINING_IMAGES and stack == FIRST_ENVIRONMENT
    tags = [image_tag] + ([f"train-{image_tag}"] if training else [])
    how = "CI pushes it on main" if stack == FIRST_ENVIRONMENT else "`mlops-bp promote` copies it"
    for tag in tags:
        try:
            ecr.describe_images(repositoryName=repository(stack), imageIds=[{"imageTag": tag}])
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ImageNotFoundException":
                raise DeployError(
                    f"image {repository(stack)}:{tag} is not in the registry: {how}"
                ) from None
            raise


def approved_package(sagemaker, account: str, stack: str, arn: str | None) -> dict:
    """The model package to serve: `arn` (checked), else the latest approved one, of this
    environment's registry in this account, Approved, with its recorded model digest."""
    group = model_package_group(stack)
    if not arn:
        found = sagemaker.list_model_packages(
            ModelPackageGroupName=group,
            ModelApprovalStatus="Approved",
            SortBy="CreationTime",
            SortOrder="Descending",
            MaxResults=1,
        )["ModelPackageSummaryList"]
        if not found:
            how = "run training, then approve a version"
            if stack != FIRST_ENVIRONMENT:
                how = "promote one first (mlops-bp promote)"
            raise DeployError(f"no approved model in {group}: {how}")
        arn = found[0]["ModelPackageArn"]
    match = PACKAGE_ARN.fullmatch(arn)
    if match is None:
        raise DeployError(f"not a model package ARN: {arn[:200]!r}")
    if match["group"] != group or match["account"] != account:
        hint = "" if stack == FIRST_ENVIRONMENT else ": promote it with `mlops-bp promote` first"
        raise DeployError(
            f"model package {arn} is not in this environment's registry {group} "
            f"of account {account}{hint}"
        )
    package = sagemaker.describe_model_package(ModelPackageName=arn)
    if package.get("ModelApprovalStatus") != "Approved":
        raise DeployError(
            f"model package {arn} is {package.get('ModelApprovalStatus')}, not Approved"
        )
    digest = (package.get("CustomerMetadataProperties") or {}).get(MODEL_DIGEST_KEY, "")
    if not SHA256.fullmatch(digest):
        raise DeployError(
            f"model package {arn} has no recorded {MODEL_DIGEST_KEY}: register models with the "
            "training pipeline"
        )
    return package


def baseline_uri(package: dict) -> str:
    """The S3 prefix holding the package's drift-check baseline."""
    try:
        statistics = package["DriftCheckBaselines"]["ModelDataQuality"]["Statistics"]["S3Uri"]
    except KeyError:
        raise DeployError(
            f"model package {package['ModelPackageArn']} has no data-quality baseline: "
            "register models with the training pipeline"
        ) from None
    return posixpath.dirname(statistics)


def deploy_config(
    session, stack: str, image_tag: str, model_package_arn: str | None, git_sha: str | None
) -> dict[str, str]:
    """The stack config of this deploy, each part checked against AWS."""
    check_images(session.client("ecr"), stack, image_tag)
    config = {"imageTag": image_tag, "gitSha": git_sha or image_tag}
    if MODEL_REGISTRY:
        account = session.client("sts").get_caller_identity()["Account"]
        package = approved_package(session.client("sagemaker"), account, stack, model_package_arn)
        arn = package["ModelPackageArn"]
        digest = package["CustomerMetadataProperties"][MODEL_DIGEST_KEY]
        config.update(
            modelPackageArn=arn,
            modelVersion=arn.rsplit("/", 1)[1],
            modelDigests=json.dumps({arn: digest}, sort_keys=True),
        )
        if MONITORING_BASELINE:
            config["baselineUri"] = baseline_uri(package)
    return config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Pin and check what a deploy serves.")
    parser.add_argument("--stack", required=True, help="the environment's stack, e.g. {{ first }}")
    parser.add_argument("--image-tag", required=True, help="the commit whose images CI pushed")
    parser.add_argument(
        "--model-package-arn", default="", help="the approved package (default: latest approved)"
    )
    parser.add_argument(
        "--git-sha", default="", help="the deployed commit (default: the image tag)"
    )
    parser.add_argument(
        "--print", action="store_true", help="print the config as JSON, set nothing"
    )
    args = parser.parse_args(argv)
    try:
        config = deploy_config(
            boto3.session.Session(),
            args.stack,
            args.image_tag,
            args.model_package_arn or None,
            args.git_sha,
        )
    except DeployError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (ClientError, BotoCoreError) as exc:
        print(f"error: AWS: {exc}", file=sys.stderr)
        return 1
    if args.print:
        print(json.dumps(config, indent=2, sort_keys=True))
        return 0
    for key, value in sorted(config.items()):
        pulumi = ["pulumi", "config", "set", "--stack", args.stack, "--cwd", "infra"]
        subprocess.run([*pulumi, f"mlops-bp:{key}", value], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
