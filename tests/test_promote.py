"""`mlops-bp promote` against a real moto server on 127.0.0.1: the approved package, its model
archive and images copied into the target environment with every digest checked; a tampered
archive, a changed model file, a tampered layer, an unapproved package or one of another
registry refused with nothing written into the target.

moto lacks ECR's GetDownloadUrlForLayer: tests/ecr.py answers that one call from a blob server
on 127.0.0.1; every other call goes over HTTP to moto."""

from __future__ import annotations

import hashlib
import io
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass

import boto3
import pytest
from typer.testing import CliRunner

from mlops_bp.blueprints import UserError, save_blueprint
from mlops_bp.blueprints.constants import ARCHIVE_DIGEST_KEY, MODEL_DIGEST_KEY, MODEL_FILE
from mlops_bp.cli.account.promote import SOURCE_PACKAGE_KEY, PromotionRefused, promote
from mlops_bp.cli.account.session import connect
from mlops_bp.cli.app import app

from .conftest import make_blueprint
from .ecr import BlobServer, blob_server, push_image, serve_layer_urls
from .moto_server import ACCOUNT, REGION

TAG = "0123456789abcdef0123456789abcdef01234567"
SOURCE_BUCKET = "shop-dev-artifacts-a1b2c3"
TARGET_BUCKET = "shop-staging-artifacts-d4e5f6"
MODEL_KEY = "pipelines-run-1/Train/output/model.tar.gz"
MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _archive(model: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in ((MODEL_FILE, model), ("metadata.json", b'{"feature_names": ["a"]}')):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture
def blobs() -> Iterator[BlobServer]:
    with blob_server() as server:
        yield server


@dataclass
class World:
    """The primary environment after a training run and an approval, and an empty target."""

    blobs: BlobServer
    package_arn: str = ""
    image_digest: str = ""

    @property
    def ecr(self):
        return boto3.client("ecr", region_name=REGION)

    @property
    def s3(self):
        return boto3.client("s3", region_name=REGION)

    @property
    def sagemaker(self):
        return boto3.client("sagemaker", region_name=REGION)

    def register(
        self, model: bytes, *, approve: bool = True, group: str = "shop-dev-models", record: bytes | None = None
    ) -> str:
        archive = _archive(model)
        recorded = {MODEL_DIGEST_KEY: _sha(record or model), ARCHIVE_DIGEST_KEY: _sha(archive)}
        self.s3.put_object(Bucket=SOURCE_BUCKET, Key=MODEL_KEY, Body=archive)
        self.s3.put_object(Bucket=SOURCE_BUCKET, Key="pipelines-run-1/baseline/statistics.json", Body=b"{}")
        self.s3.put_object(Bucket=SOURCE_BUCKET, Key="pipelines-run-1/baseline/constraints.json", Body=b"{}")
        arn = self.sagemaker.create_model_package(
            ModelPackageGroupName=group,
            InferenceSpecification={
                "Containers": [
                    {
                        "Image": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/shop-dev:{TAG}",
                        "ModelDataUrl": f"s3://{SOURCE_BUCKET}/{MODEL_KEY}",
                    }
                ],
                "SupportedContentTypes": ["application/json", "text/csv"],
                "SupportedResponseMIMETypes": ["application/json", "text/csv"],
            },
            ModelApprovalStatus="PendingManualApproval",
            CustomerMetadataProperties=recorded,
            DriftCheckBaselines={
                "ModelDataQuality": {
                    "Statistics": {
                        "ContentType": "application/json",
                        "S3Uri": f"s3://{SOURCE_BUCKET}/pipelines-run-1/baseline/statistics.json",
                    },
                    "Constraints": {
                        "ContentType": "application/json",
                        "S3Uri": f"s3://{SOURCE_BUCKET}/pipelines-run-1/baseline/constraints.json",
                    },
                }
            },
        )["ModelPackageArn"]
        if approve:
            # moto's UpdateModelPackage drops CustomerMetadataProperties it is not given (AWS
            # keeps them): give them again.
            self.sagemaker.update_model_package(
                ModelPackageArn=arn, ModelApprovalStatus="Approved", CustomerMetadataProperties=recorded
            )
        return arn

    def target_state(self) -> dict[str, object]:
        """Everything promotion may write into the target environment."""
        objects = self.s3.list_objects_v2(Bucket=TARGET_BUCKET).get("Contents", [])
        images = self.ecr.describe_images(repositoryName="shop-staging").get("imageDetails", [])
        packages = self.sagemaker.list_model_packages(ModelPackageGroupName="shop-staging-models")[
            "ModelPackageSummaryList"
        ]
        return {"objects": [o["Key"] for o in objects], "images": images, "packages": packages}


@pytest.fixture
def world(aws_env, blobs: BlobServer) -> World:
    w = World(blobs)
    for repository in ("shop-dev", "shop-staging"):
        w.ecr.create_repository(repositoryName=repository, imageTagMutability="IMMUTABLE")
    for bucket in (SOURCE_BUCKET, TARGET_BUCKET):
        w.s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    for group in ("shop-dev-models", "shop-staging-models", "other-dev-models"):
        w.sagemaker.create_model_package_group(ModelPackageGroupName=group)
    w.image_digest = push_image(w.ecr, blobs, "shop-dev", [TAG])
    w.package_arn = w.register(b"the trained model")
    return w


def _aws(blobs: BlobServer):
    """A session whose ECR client gets layer URLs from the blob server (moto lacks that API)."""
    aws = connect(region=REGION)
    serve_layer_urls(aws.client("ecr"), blobs)
    return aws


def _blueprint():
    return make_blueprint(name="shop", level=3, region=REGION)


def _promote(world: World, **kwargs):
    args = {"to": "staging", "image_tag": TAG, "artifacts_bucket": TARGET_BUCKET, **kwargs}
    return promote(_aws(world.blobs), _blueprint(), **args)


def test_promotes_the_approved_package_with_its_digests_into_the_target(world: World) -> None:
    result = _promote(world)

    # The image: same digest, in the target's own repository, served by digest.
    assert result.image == f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/shop-staging@{world.image_digest}"
    [image] = world.ecr.describe_images(repositoryName="shop-staging")["imageDetails"]
    assert image["imageDigest"] == world.image_digest and TAG in image["imageTags"]
    # The archive: byte for byte, in the target's bucket.
    source = world.s3.get_object(Bucket=SOURCE_BUCKET, Key=MODEL_KEY)["Body"].read()
    copy_key = "promoted/shop-dev-models/1/model.tar.gz"
    assert world.s3.get_object(Bucket=TARGET_BUCKET, Key=copy_key)["Body"].read() == source
    # The registration: Approved in the target registry, same digests, its source named.
    package = world.sagemaker.describe_model_package(ModelPackageName=result.model_package_arn)
    assert ":model-package/shop-staging-models/" in result.model_package_arn
    assert package["ModelApprovalStatus"] == "Approved"
    recorded = package["CustomerMetadataProperties"]
    assert recorded[MODEL_DIGEST_KEY] == _sha(b"the trained model") == result.model_sha256
    assert recorded[ARCHIVE_DIGEST_KEY] == _sha(source)
    assert recorded[SOURCE_PACKAGE_KEY] == world.package_arn == result.source_package_arn
    container = package["InferenceSpecification"]["Containers"][0]
    assert container["ModelDataUrl"] == f"s3://{TARGET_BUCKET}/{copy_key}"
    assert container["Image"] == result.image
    # The baseline went along, into the target.
    baseline = package["DriftCheckBaselines"]["ModelDataQuality"]["Statistics"]["S3Uri"]
    assert baseline.startswith(f"s3://{TARGET_BUCKET}/promoted/shop-dev-models/1/baseline/")


def test_a_second_promotion_of_the_same_package_reuses_the_copy(world: World) -> None:
    first = _promote(world)
    second = _promote(world)
    assert second.reused and second.model_package_arn == first.model_package_arn
    assert len(world.target_state()["packages"]) == 1


def test_latest_approved_is_the_default(world: World) -> None:
    newer = world.register(b"a newer model")
    assert _promote(world, model_package_arn=None).source_package_arn == newer


def test_a_tampered_archive_is_refused_and_nothing_is_written(world: World) -> None:
    # A dev identity overwrites the approved model after registration.
    world.s3.put_object(Bucket=SOURCE_BUCKET, Key=MODEL_KEY, Body=_archive(b"import os; os.system('evil')"))
    with pytest.raises(PromotionRefused, match="refusing to promote a changed artifact"):
        _promote(world, model_package_arn=world.package_arn)
    assert world.target_state() == {"objects": [], "images": [], "packages": []}


def test_a_model_file_that_differs_from_the_record_is_refused(world: World) -> None:
    arn = world.register(b"what was trained", record=b"what was evaluated")
    with pytest.raises(PromotionRefused, match=f"model file {MODEL_FILE}"):
        _promote(world, model_package_arn=arn)
    assert world.target_state() == {"objects": [], "images": [], "packages": []}


def test_an_unapproved_package_is_refused(world: World) -> None:
    pending = world.register(b"pending", approve=False)
    with pytest.raises(PromotionRefused, match="PendingManualApproval, not Approved"):
        _promote(world, model_package_arn=pending)
    assert world.target_state() == {"objects": [], "images": [], "packages": []}


def test_a_package_of_another_registry_or_account_is_refused(world: World) -> None:
    other_group = world.register(b"x", group="other-dev-models")
    with pytest.raises(PromotionRefused, match="not in the primary environment's registry"):
        _promote(world, model_package_arn=other_group)
    foreign = world.package_arn.replace(ACCOUNT, "999999999999")
    with pytest.raises(PromotionRefused, match="not in the primary environment's registry"):
        _promote(world, model_package_arn=foreign)
    assert world.target_state() == {"objects": [], "images": [], "packages": []}


def test_a_tampered_layer_is_refused_before_the_image_is_put(world: World) -> None:
    layer = next(d for d, b in world.blobs.data.items() if b.startswith(b"layerlayer"))
    world.blobs.data[layer] = b"something else"
    with pytest.raises(PromotionRefused, match="does not match its digest"):
        _promote(world)
    state = world.target_state()
    assert state["images"] == [] and state["packages"] == []


def test_promoting_into_the_primary_or_with_another_accounts_credentials_is_a_user_error(world: World) -> None:
    with pytest.raises(UserError, match="primary environment"):
        promote(_aws(world.blobs), _blueprint(), to="dev", image_tag=TAG, artifacts_bucket=TARGET_BUCKET)
    blueprint = make_blueprint(
        name="shop",
        level=3,
        region=REGION,
        environments=[
            {"name": "dev", "account": ACCOUNT},
            {"name": "staging", "account": "222222222222"},
            {"name": "prod", "account": "333333333333", "endpoint": "realtime"},
        ],
    )
    with pytest.raises(UserError, match="account 222222222222"):
        promote(_aws(world.blobs), blueprint, to="staging", image_tag=TAG, artifacts_bucket=TARGET_BUCKET)


def test_level_one_promotes_the_commits_image_only(world: World) -> None:
    blueprint = make_blueprint(name="shop", level=1, region=REGION, environments=[{"name": "dev"}, {"name": "staging"}])
    result = promote(_aws(world.blobs), blueprint, to="staging", image_tag=TAG)
    assert result.model_package_arn is None
    assert result.image.endswith(f"/shop-staging@{world.image_digest}")


def test_cli_refuses_an_unapproved_package_with_one_line_and_exit_1(world: World, tmp_path, monkeypatch) -> None:
    pending = world.register(b"pending", approve=False)
    save_blueprint(_blueprint(), tmp_path / "mlops-bp.yaml")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        app,
        [
            "promote",
            "--to",
            "staging",
            "--image-tag",
            TAG,
            "--model-package-arn",
            pending,
            "--artifacts-bucket",
            TARGET_BUCKET,
        ],
    )
    assert result.exit_code == 1, result.output
    assert "not Approved" in result.output and "Traceback" not in result.output
    assert world.target_state() == {"objects": [], "images": [], "packages": []}
