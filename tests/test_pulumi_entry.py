"""The Pulumi entry point (root Pulumi.yaml, generated infra/ projects): stack config in,
the same program out."""

from __future__ import annotations

import json
from pathlib import Path

import pulumi
import pytest
import yaml

from mlops_bp.blueprints import save_blueprint
from mlops_bp.stacks.capture import capture
from mlops_bp.stacks.entry import run_from_config

from .conftest import make_blueprint

ROOT = Path(__file__).resolve().parents[1]


def _run(stack: str, config: dict[str, str]):
    return capture(
        lambda: run_from_config(pulumi.Config("mlops-bp"), stack),
        project="mlops-bp",
        stack=stack,
        config=config,
        secret_keys=("mlops-bp:githubDispatchToken",),
    )


def test_root_pulumi_project_points_at_the_stacks_package():
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    assert project["runtime"]["name"] == "python"
    assert project["main"] == "stacks/"
    assert (ROOT / "stacks" / "__main__.py").read_text().count("run_from_config") == 2
    assert set(project["config"]) >= {"mlops-bp:level", "mlops-bp:name", "mlops-bp:platform"}


PROD_PACKAGE = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-prod-models/3"
DIGEST = "ab" * 32


def test_blueprint_from_config_keys():
    g = _run(
        "prod",
        {
            "mlops-bp:name": "churn",
            "mlops-bp:level": "3",
            "mlops-bp:github": "acme/churn",
            "mlops-bp:tags": json.dumps({"team": "growth"}),
            "mlops-bp:gitSha": "abc1234",
            "mlops-bp:githubDispatchToken": "token-from-config",
            "mlops-bp:modelPackageArn": PROD_PACKAGE,
            "mlops-bp:modelDigests": json.dumps({PROD_PACKAGE: DIGEST}),
            "mlops-bp:imageTag": "abc1234",
        },
    )
    assert g.stack == "prod"
    assert g.one("aws:sagemaker/endpoint:Endpoint").inputs["name"] == "churn-prod-endpoint"
    tags = json.loads(g.one("pulumi:providers:aws").inputs["defaultTags"])["tags"]
    assert tags["team"] == "growth" and tags["mlops-bp:level"] == "3"
    # The deploy's traceability tags go on what a deploy changes: model, config, endpoint.
    assert "mlops-bp:git-sha" not in tags
    for type_ in ("Model", "EndpointConfiguration", "Endpoint"):
        token = f"aws:sagemaker/{type_[0].lower() + type_[1:]}:{type_}"
        assert g.one(token).inputs["tags"] == {"mlops-bp:git-sha": "abc1234"}


def test_deploy_serves_the_approved_model_package():
    arn = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-prod-models/7"
    config = {
        "mlops-bp:name": "churn",
        "mlops-bp:level": "3",
        "mlops-bp:github": "acme/churn",
        "mlops-bp:githubDispatchToken": "token-from-config",
        "mlops-bp:modelPackageArn": arn,
        "mlops-bp:modelVersion": "7",
        "mlops-bp:modelDigests": json.dumps({arn: DIGEST}),
    }
    model = _run("prod", config).one("aws:sagemaker/model:Model")
    assert model.inputs["primaryContainer"]["modelPackageName"] == arn
    assert "image" not in model.inputs["primaryContainer"]
    assert model.inputs["tags"] == {"mlops-bp:model-version": "7"}
    # The container refuses a model file other than the one recorded at registration.
    assert model.inputs["primaryContainer"]["environment"]["MLOPS_BP_MODEL_SHA256"] == DIGEST
    with pytest.raises(
        pulumi.RunError, match=r"^mlops-bp: mlops-bp:modelPackageArn: not a SageMaker model package ARN"
    ):
        _run("prod", {**config, "mlops-bp:modelPackageArn": "arn:aws:s3:::bucket/key"})


def test_blueprint_from_a_config_file(tmp_path):
    path = tmp_path / "mlops-bp.yaml"
    save_blueprint(make_blueprint(2), path)
    g = _run("dev", {"mlops-bp:config": str(path)})
    assert g.one("aws:sagemaker/pipeline:Pipeline").inputs["pipelineName"] == "fraud-detect-dev-training"


def test_stack_name_that_is_not_an_environment_uses_the_primary_one():
    g = _run("sandbox", {"mlops-bp:name": "churn", "mlops-bp:level": "0"})
    assert g.one("aws:sagemaker/notebookInstance:NotebookInstance").inputs["name"] == "churn-dev-notebook"


def test_bad_config_stops_with_one_clear_line():
    with pytest.raises(pulumi.RunError, match=r"^mlops-bp: stack config: level: must be one of 0, 1, 2, 3, 4"):
        _run("dev", {"mlops-bp:name": "churn", "mlops-bp:level": "7"})


def test_deploy_on_approval_requires_the_token_secret():
    with pytest.raises(pulumi.RunError, match="pulumi config set --secret mlops-bp:githubDispatchToken"):
        _run("dev", {"mlops-bp:name": "churn", "mlops-bp:level": "3", "mlops-bp:github": "acme/churn"})


DEPLOY = {
    "mlops-bp:name": "churn",
    "mlops-bp:level": "4",
    "mlops-bp:github": "acme/churn",
    "mlops-bp:githubDispatchToken": "token-from-config",
    "mlops-bp:imageTag": "0123abc",
    "mlops-bp:modelPackageArn": "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-prod-models/4",
    "mlops-bp:modelDigests": json.dumps(
        {
            "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-prod-models/4": "cd" * 32,
            "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-prod-models/5": "ef" * 32,
        }
    ),
    "mlops-bp:baselineUri": "s3://churn-prod-artifacts-x/promoted/churn-dev-models/4/baseline",
}


def test_deploy_config_pins_images_package_and_baseline():
    g = _run("prod", DEPLOY)
    dev = _run("dev", DEPLOY)
    definition = json.loads(dev.one("aws:sagemaker/pipeline:Pipeline").inputs["pipelineDefinition"])
    defaults = {p["Name"]: p.get("DefaultValue") for p in definition["Parameters"]}
    assert defaults["TrainingImage"].endswith(":train-0123abc") and defaults["ServingImage"].endswith(":0123abc")
    job = g.one("aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition").inputs
    baseline = job["dataQualityBaselineConfig"]
    assert baseline["statisticsResource"]["s3Uri"] == DEPLOY["mlops-bp:baselineUri"] + "/statistics.json"
    assert baseline["constraintsResource"]["s3Uri"] == DEPLOY["mlops-bp:baselineUri"] + "/constraints.json"


def test_a_challenger_variant_serves_its_own_package():
    two = json.dumps([{"name": "champion", "weight": 0.8}, {"name": "challenger", "weight": 0.2}])
    challenger = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-prod-models/5"
    config = {
        **DEPLOY,
        "mlops-bp:serving": json.dumps({"variants": json.loads(two)}),
        "mlops-bp:variantModelPackages": json.dumps({"challenger": challenger}),
    }
    g = _run("prod", config)
    models = {m.name: m.inputs["primaryContainer"]["modelPackageName"] for m in g.of_type("aws:sagemaker/model:Model")}
    assert sorted(models.values()) == sorted([DEPLOY["mlops-bp:modelPackageArn"], challenger])
    variants = g.one("aws:sagemaker/endpointConfiguration:EndpointConfiguration").inputs["productionVariants"]
    assert [(v["variantName"], v["initialVariantWeight"]) for v in variants] == [("champion", 0.8), ("challenger", 0.2)]
    assert variants[0]["modelName"] != variants[1]["modelName"]
    # Each variant's container checks its own package's model file.
    digests = {
        m.inputs["primaryContainer"]["environment"]["MLOPS_BP_MODEL_SHA256"]
        for m in g.of_type("aws:sagemaker/model:Model")
    }
    assert digests == {"cd" * 32, "ef" * 32}


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("mlops-bp:imageTag", "latest", "must be a commit's tag"),
        ("mlops-bp:imageTag", "a b", "not an image tag"),
        ("mlops-bp:baselineUri", "https://example.com/x", "not an S3 URI"),
        (
            "mlops-bp:variantModelPackages",
            json.dumps({"nope": DEPLOY["mlops-bp:modelPackageArn"]}),
            "'nope' is not a serving variant",
        ),
        (
            "mlops-bp:variantModelPackages",
            json.dumps({"primary": "arn:aws:s3:::x"}),
            "not a SageMaker model package ARN",
        ),
        ("mlops-bp:modelDigests", json.dumps({}), "no recorded digest for arn:aws:sagemaker"),
        ("mlops-bp:modelDigests", json.dumps(["x"]), "must be an object"),
        (
            "mlops-bp:modelDigests",
            json.dumps({DEPLOY["mlops-bp:modelPackageArn"]: "not-a-digest"}),
            "not a package ARN with a sha256",
        ),
    ],
)
def test_bad_deploy_config_is_one_clear_line(key, value, message):
    with pytest.raises(pulumi.RunError, match=rf"^mlops-bp: {key}.*{message}"):
        _run("prod", {**DEPLOY, key: value})


def test_every_blueprint_field_can_be_stack_config():
    """Stack config (`mlops-bp:<key>`) reaches every top-level field of the Blueprint."""
    from mlops_bp.blueprints import Blueprint
    from mlops_bp.stacks.entry import _OBJECT_KEYS, _SCALAR_KEYS

    assert set(Blueprint.model_fields) - {"spec_version"} == {*_SCALAR_KEYS, *_OBJECT_KEYS, "level"}
