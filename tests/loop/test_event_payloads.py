"""EventBridge input transformers, rendered with a sample event, produce what the generated
workflows consume: the approval's dispatch starts the deploy with the approved package."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from mlops_bp.templates.render import render_tree

from ..conftest import make_blueprint
from ..graphs import graph, overrides

# What SageMaker sends when a model package's approval changes (EventBridge detail type
# "SageMaker Model Package State Change").
APPROVAL_EVENT = {
    "version": "0",
    "source": "aws.sagemaker",
    "detail-type": "SageMaker Model Package State Change",
    "detail": {
        "ModelPackageGroupName": "fraud-detect-dev-models",
        "ModelPackageVersion": 7,
        "ModelPackageArn": "arn:aws:sagemaker:us-east-1:123456789012:model-package/fraud-detect-dev-models/7",
        "ModelApprovalStatus": "Approved",
    },
}


class _GitlabLoader(yaml.SafeLoader):
    """GitLab CI's custom tag !reference."""


_GitlabLoader.add_constructor("!reference", lambda loader, node: loader.construct_sequence(node))
PLACEHOLDER = re.compile(r'("?)<([A-Za-z0-9_.-]+)>("?)')


def _path(event: dict, path: str):
    value = event
    for part in path.removeprefix("$.").split("."):
        value = value[part]
    return value


def render_transformer(transformer: dict, event: dict) -> str:
    """EventBridge's substitution: a quoted placeholder takes the raw text, an unquoted one the
    JSON value (strings quoted)."""
    values = {name: _path(event, path) for name, path in transformer["inputPaths"].items()}

    def substitute(match: re.Match) -> str:
        value = values[match[2]]
        if match[1] and match[3]:
            return f'"{value}"'
        return match[1] + json.dumps(value) + match[3]

    return PLACEHOLDER.sub(substitute, transformer["inputTemplate"])


def _matches(pattern: dict, event: dict) -> bool:
    for key, allowed in pattern.items():
        if isinstance(allowed, dict):
            if not _matches(allowed, event.get(key, {})):
                return False
        elif event.get(key) not in allowed:
            return False
    return True


def _approval_target(ci: str):
    extra = {} if ci == "github" else {"github": None, "gitlab": "acme/fraud-detect"}
    g = graph(3, "dev", **overrides(**extra))
    rule = g.one("aws:cloudwatch/eventRule:EventRule", "approved")
    target = g.one("aws:cloudwatch/eventTarget:EventTarget", f"to-{ci}")
    return json.loads(rule.inputs["eventPattern"]), target.inputs["inputTransformer"]


def test_the_rule_matches_an_approval_of_the_primary_registry():
    pattern, _ = _approval_target("github")
    assert _matches(pattern, APPROVAL_EVENT)
    rejected = {**APPROVAL_EVENT, "detail": {**APPROVAL_EVENT["detail"], "ModelApprovalStatus": "Rejected"}}
    assert not _matches(pattern, rejected)


@pytest.fixture(scope="module")
def repos(tmp_path_factory):
    made = {}
    for ci in ("github", "gitlab"):
        dest = tmp_path_factory.mktemp(ci)
        render_tree(make_blueprint(3, ci=ci), ci, dest)
        made[ci] = dest
    return made


def test_github_dispatch_starts_the_deploy_workflow_with_the_package(repos):
    _, transformer = _approval_target("github")
    body = json.loads(render_transformer(transformer, APPROVAL_EVENT))
    destination = graph(3, "dev").one("aws:cloudwatch/eventApiDestination:EventApiDestination", "dispatch")
    workflow_file = re.fullmatch(
        r"https://api\.github\.com/repos/acme/fraud-detect/actions/workflows/([\w.-]+)/dispatches",
        destination.inputs["invocationEndpoint"],
    )[1]
    workflow = yaml.safe_load((Path(repos["github"]) / ".github/workflows" / workflow_file).read_text())
    inputs = workflow[True]["workflow_dispatch"]["inputs"]  # YAML 1.1 reads the `on:` key as True
    assert body == {"ref": "main", "inputs": {"model_package_arn": APPROVAL_EVENT["detail"]["ModelPackageArn"]}}
    assert set(body["inputs"]) <= set(inputs)
    # The input reaches the jobs through the environment, never pasted into a script.
    assert workflow["env"]["MODEL_PACKAGE_ARN"] == "${{ inputs.model_package_arn }}"


def test_gitlab_pipeline_runs_the_deploy_jobs_with_the_package(repos):
    _, transformer = _approval_target("gitlab")
    body = json.loads(render_transformer(transformer, APPROVAL_EVENT))
    variables = {v["key"]: v["value"] for v in body["variables"]}
    assert variables["MODEL_APPROVED"] == "true"
    assert variables["MODEL_PACKAGE_ARN"] == APPROVAL_EVENT["detail"]["ModelPackageArn"]
    assert variables["MODEL_VERSION"] == "7"
    pipeline = yaml.load((Path(repos["gitlab"]) / ".gitlab-ci.yml").read_text(), Loader=_GitlabLoader)  # noqa: S506
    deploy = pipeline["deploy-dev"]
    assert any('$MODEL_APPROVED == "true"' in rule["if"] for rule in deploy["rules"])
    assert any("MODEL_PACKAGE_ARN" in line for line in deploy["script"])
