"""Promotion: the one path between environments.

`promote(aws, blueprint, to=..., image_tag=...)` copies what the primary environment built and
approved into another environment, each piece checked on the way:

- images: the serving image of the deployed commit (and, from level 2, the image the model
  package was registered with) from the primary's ECR repository into the target's, layer by
  layer, each blob's sha256 checked against the manifest, the manifest's against its digest;
- the model package (level 2 on): it must be in the primary's registry (exact account and
  group) and Approved, and carry the digests recorded at registration. Its model archive is
  read once, its sha256 and the model file's inside it compared with the record, and only
  then written into the target's artifacts bucket; its drift-check baseline goes along. The
  copy is registered, Approved, in the target's own registry with the same digests and its
  source's ARN. A second run finds that copy and returns it.

Nothing is written into the target before every check of the part being copied passed. The
target's serving role reads only its own environment: this is how packages get there.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import tarfile
import tempfile
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

from mlops_bp.blueprints import Blueprint, MlopsBpError, UserError
from mlops_bp.blueprints.constants import (
    ARCHIVE_DIGEST_KEY,
    IMAGE_TAG,
    MODEL_DIGEST_KEY,
    MODEL_FILE,
    MODEL_PACKAGE_ARN,
    PROMOTED_PREFIX,
    SHA256_HEX,
    image_repository,
    model_package_group,
)

from .session import Aws, aws_errors

__all__ = ["Promotion", "PromotionRefused", "promote", "sha256_hex"]

SOURCE_PACKAGE_KEY = "SourcePackageArn"
# An image URI as SageMaker records it: <account>.dkr.ecr.<region>.amazonaws.com/<repo>(:tag|@digest)
IMAGE_URI = re.compile(
    r"(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?/(?P<repo>[a-z0-9._/-]+)"
    r"(:(?P<tag>[A-Za-z0-9_.-]+)|@(?P<digest>sha256:[0-9a-f]{64}))"
)
MANIFEST_TYPES = [
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.index.v1+json",
]
_INDEX_TYPES = {"application/vnd.docker.distribution.manifest.list.v2+json", "application/vnd.oci.image.index.v1+json"}
_CHUNK = 1024 * 1024
# Packages of the target registry searched for an earlier copy of the same source.
_REUSE_WINDOW = 100


class PromotionRefused(MlopsBpError):
    """A check failed: nothing of the refused part was written into the target; exit code 1."""


@dataclass(frozen=True)
class Promotion:
    """What was promoted into `environment` (printed as JSON for the deploy workflow)."""

    environment: str
    image: str  # the commit's serving image in the target repository, by digest
    model_package_arn: str | None = None  # the target registry's copy
    source_package_arn: str | None = None
    model_sha256: str | None = None
    reused: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def sha256_hex(stream: IO[bytes]) -> str:
    digest = hashlib.sha256()
    for chunk in iter(lambda: stream.read(_CHUNK), b""):
        digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class _Where:
    """The two ends of a promotion, by name."""

    project: str
    region: str
    source_env: str
    source_account: str
    target_env: str
    target_account: str

    @property
    def source_repository(self) -> str:
        return image_repository(self.project, self.source_env)

    @property
    def target_repository(self) -> str:
        return image_repository(self.project, self.target_env)

    @property
    def source_group(self) -> str:
        return model_package_group(self.project, self.source_env)

    @property
    def target_group(self) -> str:
        return model_package_group(self.project, self.target_env)

    @property
    def source_artifacts_prefix(self) -> str:
        """Bucket-name prefix of the primary's artifacts bucket (Pulumi appends a suffix)."""
        return f"{self.project}-{self.source_env}-artifacts-"[:37]

    def target_image(self, digest: str) -> str:
        return f"{self.target_account}.dkr.ecr.{self.region}.amazonaws.com/{self.target_repository}@{digest}"


def promote(
    aws: Aws,
    blueprint: Blueprint,
    *,
    to: str,
    image_tag: str,
    model_package_arn: str | None = None,
    artifacts_bucket: str | None = None,
) -> Promotion:
    """Promote the commit `image_tag` (and, with a model registry, `model_package_arn` or the
    latest approved package) from the primary environment into `to`. Every check of the
    package and its archive runs before anything is written into the target."""
    where = _where(aws, blueprint, to)
    if not IMAGE_TAG.fullmatch(image_tag) or image_tag == "latest":
        raise UserError(f"--image-tag: not a commit's image tag: {image_tag[:80]!r}")
    images = _Images(aws, where)
    if "model_registry" not in blueprint.features:
        if model_package_arn:
            raise UserError(f"--model-package-arn: level {int(blueprint.level)} has no model registry")
        return Promotion(environment=to, image=where.target_image(images.copy(image_tag)))
    if not artifacts_bucket:
        raise UserError("--artifacts-bucket: needed to promote a model package (the target stack's output)")
    return _Packages(aws, where, images, artifacts_bucket).promote(to, image_tag, model_package_arn)


def _where(aws: Aws, blueprint: Blueprint, to: str) -> _Where:
    primary = blueprint.primary_environment
    target = blueprint.environment(to)
    if target is primary:
        raise UserError(
            f"--to: {to} is the primary environment: it serves what its own pipeline registered, "
            "nothing is promoted into it"
        )
    account = aws.identity.account
    if target.account and target.account != account:
        raise UserError(
            f"--to {to}: the credentials are of account {account}, but {to} is account {target.account}: "
            f"use {to}'s CI role"
        )
    return _Where(
        project=blueprint.name,
        region=aws.region,
        source_env=primary.name,
        source_account=primary.account or account,
        target_env=target.name,
        target_account=account,
    )


class _Images:
    """ECR to ECR, blob by blob, every digest checked."""

    def __init__(self, aws: Aws, where: _Where) -> None:
        self.ecr = aws.client("ecr")
        self.where = where

    def copy(self, tag: str, source_repository: str | None = None) -> str:
        """Copy `<source repository>:<tag>` into the target repository under the same tag;
        return its digest. A tag already in the target must name the same digest."""
        where = self.where
        repository = source_repository or where.source_repository
        manifest, media_type, digest = self._manifest(repository, {"imageTag": tag})
        existing = self._target_digest(tag)
        if existing is not None:
            if existing != digest:
                raise PromotionRefused(
                    f"image {where.target_repository}:{tag} is already {existing[:19]}…, but the source's is "
                    f"{digest[:19]}…: tags are immutable, refusing to promote a different image under it"
                )
            return digest
        self._copy_manifest(repository, manifest, media_type, digest)
        with aws_errors("ecr:PutImage"):
            self.ecr.put_image(
                repositoryName=where.target_repository,
                imageManifest=manifest,
                imageManifestMediaType=media_type,
                imageTag=tag,
                imageDigest=digest,
            )
        return digest

    def _manifest(self, repository: str, image_id: dict[str, str]) -> tuple[str, str, str]:
        where = self.where
        with aws_errors("ecr:BatchGetImage"):
            found = self.ecr.batch_get_image(
                registryId=where.source_account,
                repositoryName=repository,
                imageIds=[image_id],
                acceptedMediaTypes=MANIFEST_TYPES,
            )
        if not found.get("images"):
            reason = (found.get("failures") or [{}])[0].get("failureReason", "not found")
            raise PromotionRefused(f"image {repository}:{next(iter(image_id.values()))}: {reason}")
        image = found["images"][0]
        manifest = image["imageManifest"]
        digest = image["imageId"]["imageDigest"]
        actual = "sha256:" + hashlib.sha256(manifest.encode()).hexdigest()
        if actual != digest:
            raise PromotionRefused(f"image {repository}: manifest digest {actual[:19]}… is not {digest[:19]}…")
        media_type = image.get("imageManifestMediaType") or json.loads(manifest).get("mediaType", "")
        return manifest, media_type, digest

    def _target_digest(self, tag: str) -> str | None:
        with aws_errors("ecr:DescribeImages"):
            try:
                found = self.ecr.describe_images(
                    repositoryName=self.where.target_repository, imageIds=[{"imageTag": tag}]
                )
            except self.ecr.exceptions.ImageNotFoundException:
                return None
        details = found.get("imageDetails") or []
        return details[0]["imageDigest"] if details else None

    def _copy_manifest(self, repository: str, manifest: str, media_type: str, digest: str) -> None:
        parsed = json.loads(manifest)
        if media_type in _INDEX_TYPES:
            # A multi-platform image: each platform's manifest first, by digest, then the index.
            for child in parsed.get("manifests", []):
                child_manifest, child_type, child_digest = self._manifest(repository, {"imageDigest": child["digest"]})
                if child_digest != child["digest"]:
                    raise PromotionRefused(f"image {repository}: index names {child['digest'][:19]}…")
                self._copy_manifest(repository, child_manifest, child_type, child_digest)
                with aws_errors("ecr:PutImage"):
                    self.ecr.put_image(
                        repositoryName=self.where.target_repository,
                        imageManifest=child_manifest,
                        imageManifestMediaType=child_type,
                        imageDigest=child_digest,
                    )
            return
        blobs = [parsed["config"]["digest"], *(layer["digest"] for layer in parsed.get("layers", []))]
        with aws_errors("ecr:BatchCheckLayerAvailability"):
            present = self.ecr.batch_check_layer_availability(
                repositoryName=self.where.target_repository, layerDigests=blobs
            ).get("layers", [])
        have = {layer["layerDigest"] for layer in present if layer.get("layerAvailability") == "AVAILABLE"}
        for blob in blobs:
            if blob not in have:
                self._copy_blob(repository, blob)

    def _copy_blob(self, repository: str, blob: str) -> None:
        """Download one layer (or config) blob, check its sha256, upload it in parts."""
        where = self.where
        with aws_errors("ecr:GetDownloadUrlForLayer"):
            url = self.ecr.get_download_url_for_layer(
                registryId=where.source_account, repositoryName=repository, layerDigest=blob
            )["downloadUrl"]
        with tempfile.TemporaryFile() as spool:
            digest = hashlib.sha256()
            with urllib.request.urlopen(url, timeout=60) as response:  # a presigned S3 URL # noqa: S310
                for chunk in iter(lambda: response.read(_CHUNK), b""):
                    digest.update(chunk)
                    spool.write(chunk)
            if "sha256:" + digest.hexdigest() != blob:
                raise PromotionRefused(f"image {repository}: layer {blob[:19]}… does not match its digest")
            spool.seek(0)
            with aws_errors("ecr:InitiateLayerUpload"):
                upload = self.ecr.initiate_layer_upload(repositoryName=where.target_repository)
            part_size = max(int(upload.get("partSize") or 0), 5 * _CHUNK)
            first = 0
            for part in iter(lambda: spool.read(part_size), b""):
                with aws_errors("ecr:UploadLayerPart"):
                    self.ecr.upload_layer_part(
                        repositoryName=where.target_repository,
                        uploadId=upload["uploadId"],
                        partFirstByte=first,
                        partLastByte=first + len(part) - 1,
                        layerPartBlob=part,
                    )
                first += len(part)
            with aws_errors("ecr:CompleteLayerUpload"):
                self.ecr.complete_layer_upload(
                    repositoryName=where.target_repository, uploadId=upload["uploadId"], layerDigests=[blob]
                )


class _Packages:
    """SageMaker registry to registry, through the artifacts buckets."""

    def __init__(self, aws: Aws, where: _Where, images: _Images, artifacts_bucket: str) -> None:
        self.sagemaker = aws.client("sagemaker")
        self.s3 = aws.client("s3")
        self.where = where
        self.images = images
        self.bucket = artifacts_bucket

    def promote(self, to: str, image_tag: str, arn: str | None) -> Promotion:
        source = self._approved_source(arn)
        source_arn = source["ModelPackageArn"]
        model_sha, archive_sha = self._recorded_digests(source)
        earlier = self._earlier_copy(source_arn)
        if earlier is not None and self._recorded_digests(earlier) != (model_sha, archive_sha):
            raise PromotionRefused(
                f"{earlier['ModelPackageArn']} copies {source_arn} with other digests: resolve it by hand"
            )
        container = source["InferenceSpecification"]["Containers"][0]
        with tempfile.TemporaryFile() as archive:
            if earlier is None:  # read and check before anything is written
                self._verified_archive(container["ModelDataUrl"], archive, archive_sha, model_sha)
            image = self.where.target_image(self.images.copy(image_tag))
            if earlier is not None:
                return Promotion(to, image, earlier["ModelPackageArn"], source_arn, model_sha, reused=True)
            package_image = self._copy_package_image(container["Image"])
            version = MODEL_PACKAGE_ARN.fullmatch(source_arn)["version"]  # type: ignore[index]
            prefix = f"{PROMOTED_PREFIX}/{self.where.source_group}/{version}"
            model_uri = self._write(archive, f"{prefix}/model.tar.gz")
        baselines = self._copy_baselines(source.get("DriftCheckBaselines"), f"{prefix}/baseline")
        spec = source["InferenceSpecification"]
        request: dict[str, Any] = {
            "ModelPackageGroupName": self.where.target_group,
            "ModelPackageDescription": f"Promoted from {source_arn}"[:1024],
            "InferenceSpecification": {
                "Containers": [{"Image": package_image, "ModelDataUrl": model_uri}],
                "SupportedContentTypes": spec.get("SupportedContentTypes", ["application/json"]),
                "SupportedResponseMIMETypes": spec.get("SupportedResponseMIMETypes", ["application/json"]),
            },
            "ModelApprovalStatus": "Approved",
            "CustomerMetadataProperties": {
                MODEL_DIGEST_KEY: model_sha,
                ARCHIVE_DIGEST_KEY: archive_sha,
                SOURCE_PACKAGE_KEY: source_arn,
            },
        }
        if baselines:
            request["DriftCheckBaselines"] = baselines
        with aws_errors("sagemaker:CreateModelPackage"):
            created = self.sagemaker.create_model_package(**request)["ModelPackageArn"]
        return Promotion(to, image, created, source_arn, model_sha)

    def _approved_source(self, arn: str | None) -> dict[str, Any]:
        where = self.where
        # Another account's group is named by its ARN.
        group = where.source_group
        if where.source_account != where.target_account:
            group = f"arn:aws:sagemaker:{where.region}:{where.source_account}:model-package-group/{group}"
        if not arn:
            with aws_errors("sagemaker:ListModelPackages"):
                found = self.sagemaker.list_model_packages(
                    ModelPackageGroupName=group,
                    ModelApprovalStatus="Approved",
                    SortBy="CreationTime",
                    SortOrder="Descending",
                    MaxResults=1,
                )["ModelPackageSummaryList"]
            if not found:
                raise PromotionRefused(
                    f"no approved model in {where.source_group}: run training, then approve a version"
                )
            arn = found[0]["ModelPackageArn"]
        match = MODEL_PACKAGE_ARN.fullmatch(arn)
        if match is None:
            raise UserError(f"--model-package-arn: not a model package ARN: {arn[:200]!r}")
        if match["account"] != where.source_account or match["group"] != where.source_group:
            raise PromotionRefused(
                f"{arn} is not in the primary environment's registry "
                f"({where.source_group} of account {where.source_account})"
            )
        with aws_errors("sagemaker:DescribeModelPackage"):
            package = self.sagemaker.describe_model_package(ModelPackageName=arn)
        status = package.get("ModelApprovalStatus")
        if status != "Approved":
            raise PromotionRefused(f"{arn} is {status}, not Approved: approve it in {where.source_group} first")
        return package

    @staticmethod
    def _recorded_digests(package: dict[str, Any]) -> tuple[str, str]:
        recorded = package.get("CustomerMetadataProperties") or {}
        model_sha, archive_sha = recorded.get(MODEL_DIGEST_KEY, ""), recorded.get(ARCHIVE_DIGEST_KEY, "")
        if not (SHA256_HEX.fullmatch(model_sha) and SHA256_HEX.fullmatch(archive_sha)):
            raise PromotionRefused(
                f"{package['ModelPackageArn']} has no recorded digests ({MODEL_DIGEST_KEY}, {ARCHIVE_DIGEST_KEY}): "
                "register models with the training pipeline"
            )
        return model_sha, archive_sha

    def _earlier_copy(self, source_arn: str) -> dict[str, Any] | None:
        with aws_errors("sagemaker:ListModelPackages"):
            summaries = self.sagemaker.list_model_packages(
                ModelPackageGroupName=self.where.target_group,
                SortBy="CreationTime",
                SortOrder="Descending",
                MaxResults=_REUSE_WINDOW,
            )["ModelPackageSummaryList"]
        for summary in summaries:
            with aws_errors("sagemaker:DescribeModelPackage"):
                package = self.sagemaker.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
            recorded = package.get("CustomerMetadataProperties") or {}
            if recorded.get(SOURCE_PACKAGE_KEY) == source_arn and package.get("ModelApprovalStatus") == "Approved":
                return package
        return None

    def _copy_package_image(self, uri: str) -> str:
        """The image the package was registered with, copied into the target, by digest."""
        where = self.where
        match = IMAGE_URI.fullmatch(uri)
        if match is None or match["account"] != where.source_account or match["repo"] != where.source_repository:
            raise PromotionRefused(f"the package's image {uri[:200]!r} is not in {where.source_repository}")
        if match["digest"]:
            raise PromotionRefused(f"the package's image {uri[:200]!r} has no tag to promote it under")
        return where.target_image(self.images.copy(match["tag"]))

    def _verified_archive(self, uri: str, spool: IO[bytes], archive_sha: str, model_sha: str) -> None:
        """Read the model archive into `spool` and check it against both recorded digests."""
        bucket, key = _split_s3(uri)
        if not bucket.startswith(self.where.source_artifacts_prefix):
            raise PromotionRefused(f"the package's model {uri[:200]!r} is not in the primary's artifacts bucket")
        with aws_errors("s3:GetObject"):
            body = self.s3.get_object(Bucket=bucket, Key=key, ExpectedBucketOwner=self.where.source_account)["Body"]
            for chunk in iter(lambda: body.read(_CHUNK), b""):
                spool.write(chunk)
        spool.seek(0)
        actual = sha256_hex(spool)
        if actual != archive_sha:
            raise PromotionRefused(
                f"model archive {uri} has sha256 {actual[:12]}…, the registration recorded {archive_sha[:12]}…: "
                "refusing to promote a changed artifact"
            )
        spool.seek(0)
        inner = _model_file_sha256(spool)
        if inner != model_sha:
            raise PromotionRefused(
                f"model file {MODEL_FILE} in {uri} has sha256 {(inner or 'none')[:12]}…, the registration "
                f"recorded {model_sha[:12]}…: refusing to promote"
            )
        spool.seek(0)

    def _write(self, spool: IO[bytes], key: str) -> str:
        with aws_errors("s3:PutObject"):
            self.s3.upload_fileobj(
                spool, self.bucket, key, ExtraArgs={"ExpectedBucketOwner": self.where.target_account}
            )
        return f"s3://{self.bucket}/{key}"

    def _copy_baselines(self, baselines: dict[str, Any] | None, prefix: str) -> dict[str, Any] | None:
        """The drift-check baseline files, copied next to the model; the same structure."""
        if not baselines:
            return None
        copied = json.loads(json.dumps(baselines))
        for section in copied.values():
            for item in section.values():
                if isinstance(item, dict) and "S3Uri" in item:
                    bucket, key = _split_s3(item["S3Uri"])
                    if not bucket.startswith(self.where.source_artifacts_prefix):
                        raise PromotionRefused(f"baseline {item['S3Uri'][:200]!r} is not in the primary's artifacts")
                    with aws_errors("s3:GetObject"):
                        data = self.s3.get_object(
                            Bucket=bucket, Key=key, ExpectedBucketOwner=self.where.source_account
                        )["Body"].read()
                    target_key = f"{prefix}/{PurePosixPath(key).name}"
                    with aws_errors("s3:PutObject"):
                        self.s3.put_object(Bucket=self.bucket, Key=target_key, Body=data)
                    item["S3Uri"] = f"s3://{self.bucket}/{target_key}"
        return copied


def _split_s3(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise PromotionRefused(f"not an S3 URI: {uri[:200]!r}")
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def _members(archive: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    for member in archive:
        if member.isfile() and PurePosixPath(member.name).name == MODEL_FILE:
            yield member


def _model_file_sha256(stream: IO[bytes]) -> str | None:
    """sha256 of the model file in a model.tar.gz (read, never extracted or deserialised)."""
    try:
        with tarfile.open(fileobj=stream, mode="r:*") as archive:
            for member in _members(archive):
                handle = archive.extractfile(member)
                return sha256_hex(handle) if handle is not None else None
    except tarfile.TarError:
        return None
    return None


def stack_output(stack: str, key: str, cwd: Path) -> str | None:
    """One output of a stack of the repo's Pulumi project (`pulumi stack output`), or None."""
    try:
        done = subprocess.run(
            ["pulumi", "stack", "output", key, "--stack", stack, "--cwd", str(cwd)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    value = done.stdout.strip()
    return value if done.returncode == 0 and value else None
