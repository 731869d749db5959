{%- set first = cookiecutter._environments[0].name -%}
{%- set level = cookiecutter.level|int -%}
{%- set registry = level >= 2 and cookiecutter.platform == "sagemaker" -%}
"""Pin what a deploy serves, checked against AWS, as the stack config of one environment.

    python infra/deploy_config.py --stack ENV --image-tag GIT_SHA [--model-package-arn ARN]

Both CI systems' deploy jobs run it before `pulumi up` (the Pulumi program reads the keys):
- `mlops-bp:imageTag`: the commit whose images CI pushed. Both must exist: the serving image
  `<repository>:<sha>`{% if level >= 2 %} and the training image `<repository>:train-<sha>`, which scheduled
  and drift-started training runs use{% endif %}.
{%- if registry %}
- `mlops-bp:modelPackageArn` / `modelVersion`: the approval's model package (untrusted input from
  an event), else the latest approved one. It must be in this project's registry and Approved.
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

# Where this project's CI pushes images and its pipeline registers models (mlops-bp names).
REPOSITORY = "{{ cookiecutter.project_name }}-{{ first }}"
MODEL_PACKAGE_GROUP = "{{ cookiecutter.project_name }}-{{ first }}-models"
# What this repo's level pins: training images (level 2+), an approved model package from the
# SageMaker registry (level 2+) and its monitoring baseline (level 4).
TRAINING_IMAGES = {{ level >= 2 }}
MODEL_REGISTRY = {{ registry }}
MONITORING_BASELINE = {{ registry and level >= 4 }}
IMAGE_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,121}")
PACKAGE_ARN = re.compile(
    r"arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package/(?P<group>[A-Za-z0-9-]+)/(?P<version>\d+)"
)


class DeployError(Exception):
    """Something that must stop the deploy; the message says what and how to fix it."""


def check_images(ecr, image_tag: str) -> None:
    """The images of `image_tag` are in the repository (CI pushes them on the main branch)."""
    if not IMAGE_TAG.fullmatch(image_tag) or image_tag == "latest":
        raise DeployError(f"--image-tag: not a commit's image tag: {image_tag[:80]!r}")
    tags = [image_tag] + ([f"train-{image_tag}"] if TRAINING_IMAGES else [])
    for tag in tags:
        try:
            ecr.describe_images(repositoryName=REPOSITORY, imageIds=[{"imageTag": tag}])
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ImageNotFoundException":
                raise DeployError(
                    f"image {REPOSITORY}:{tag} is not in the registry: CI pushes it on main"
                ) from None
            raise


def approved_package(sagemaker, arn: str | None) -> dict:
    """The model package to serve: `arn` (checked), else the latest approved one."""
    if not arn:
        found = sagemaker.list_model_packages(
            ModelPackageGroupName=MODEL_PACKAGE_GROUP,
            ModelApprovalStatus="Approved",
            SortBy="CreationTime",
            SortOrder="Descending",
            MaxResults=1,
        )["ModelPackageSummaryList"]
        if not found:
            raise DeployError(
                f"no approved model in {MODEL_PACKAGE_GROUP}: run training, then approve a version"
            )
        arn = found[0]["ModelPackageArn"]
    match = PACKAGE_ARN.fullmatch(arn)
    if match is None:
        raise DeployError(f"not a model package ARN: {arn[:200]!r}")
    if match["group"] != MODEL_PACKAGE_GROUP:
        raise DeployError(
            f"model package {arn} is not in this project's registry {MODEL_PACKAGE_GROUP}"
        )
    package = sagemaker.describe_model_package(ModelPackageName=arn)
    if package.get("ModelApprovalStatus") != "Approved":
        raise DeployError(
            f"model package {arn} is {package.get('ModelApprovalStatus')}, not Approved"
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
    session, image_tag: str, model_package_arn: str | None, git_sha: str | None
) -> dict[str, str]:
    """The stack config of this deploy, each part checked against AWS."""
    check_images(session.client("ecr"), image_tag)
    config = {"imageTag": image_tag, "gitSha": git_sha or image_tag}
    if MODEL_REGISTRY:
        package = approved_package(session.client("sagemaker"), model_package_arn)
        arn = package["ModelPackageArn"]
        config.update(modelPackageArn=arn, modelVersion=arn.rsplit("/", 1)[1])
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
            boto3.session.Session(), args.image_tag, args.model_package_arn or None, args.git_sha
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
