"""The Pulumi policy pack every generated repo ships (infra/policy): its files, and its policies
called as the Pulumi engine calls them, with arguments built from captured graphs (no Pulumi
CLI here). The engine hands a policy the resource's properties as a protobuf Struct, which
pulumi-policy deserializes and wraps in its unknown-checking proxy; `engine_props` does the same."""

from __future__ import annotations

import re
import runpy
import shutil
import tomllib
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
import yaml
from google.protobuf import json_format, struct_pb2
from packaging.requirements import Requirement
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError, unknown_checking_proxy

from mlops_bp.blueprints.models import RULE_IDS
from mlops_bp.stacks.graph import CapturedResource, ResourceGraph
from mlops_bp.stacks.rules import RULES
from mlops_bp.stacks.rules.pulumi_policy import policies

from .graphs import graph
from .test_rules import CASES, KUBERNETES, SAGEMAKER, SAGEMAKER_PROD, SSE, edited, sse_default

ROOT = Path(__file__).resolve().parents[1]
POLICIES = {p.name: p for p in policies()}


def engine_props(inputs: dict[str, Any]) -> Any:
    struct = struct_pb2.Struct()
    struct.update(inputs)
    return unknown_checking_proxy(deserialize_properties(json_format.MessageToDict(struct)))


def _options(res: CapturedResource) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        res.protect,
        list(res.ignore_changes),
        res.delete_before_replace or None,
        [],
        PolicyCustomTimeouts(0, 0, 0),
        [],
        res.parent or None,
    )


def _provider(res: CapturedResource) -> PolicyProviderResource | None:
    if not res.provider:
        return None
    # urn:pulumi:<stack>::<project>::pulumi:providers:aws::<name>::<id>
    parts = res.provider.split("::")
    return PolicyProviderResource(parts[2], engine_props({}), "::".join(parts[:4]), parts[3])


def resource_args(res: CapturedResource) -> ResourceValidationArgs:
    return ResourceValidationArgs(res.type, engine_props(res.inputs), res.urn, res.name, _options(res), _provider(res))


def stack_args(g: ResourceGraph) -> StackValidationArgs:
    """The stack as AnalyzeStack passes it: every resource, parents linked to resource objects."""
    made = {
        r.urn: PolicyResource(r.type, engine_props(r.inputs), r.urn, r.name, _options(r), _provider(r), None, [], {})
        for r in g.resources
    }
    for r in g.resources:
        made[r.urn].parent = made.get(r.parent)
    return StackValidationArgs(list(made.values()))


def violations(policy, g: ResourceGraph) -> list[tuple[str, str | None]]:
    """What `policy` reports over the whole of `g`, as (message, urn)."""
    reported: list[tuple[str, str | None]] = []
    if isinstance(policy, StackValidationPolicy):
        policy.validate(stack_args(g), lambda message, urn=None: reported.append((message, urn)))
    else:
        for res in g.resources:
            policy.validate(resource_args(res), lambda message, urn=None, r=res: reported.append((message, r.urn)))
    return reported


def test_one_policy_per_rule_mandatory_by_default():
    assert list(POLICIES) == list(RULE_IDS)
    for rule_id, policy in POLICIES.items():
        assert policy.enforcement_level is EnforcementLevel.MANDATORY
        assert policy.severity.value == RULES[rule_id].severity.value
        assert isinstance(policy, StackValidationPolicy) is RULES[rule_id].reads_graph, rule_id


@pytest.mark.parametrize("args", [SAGEMAKER, SAGEMAKER_PROD, KUBERNETES], ids=["sagemaker", "sagemaker-prod", "k8s"])
def test_a_generated_stack_passes_every_policy(args):
    g = graph(*args)
    assert {name: violations(policy, g) for name, policy in POLICIES.items() if violations(policy, g)} == {}


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_each_policy_reports_its_rules_violation(rule_id):
    args, mutate, says = CASES[rule_id]
    broken = mutate(graph(*args))
    [(message, urn)] = violations(POLICIES[rule_id], broken)
    assert says in message
    assert urn in {r.urn for r in broken.resources}


def test_a_value_unknown_at_preview_defers_the_policy_instead_of_failing_it():
    # During preview the key's ARN is not known yet: pulumi-policy turns the UnknownValueError
    # into "can't run policy during preview" (advisory), and `pulumi up` runs it with the value.
    unknown = edited(SSE, "data", lambda i: sse_default(i).update(kmsMasterKeyId=UNKNOWN_STRING_VALUE))
    with pytest.raises(UnknownValueError):
        violations(POLICIES["MLOPS-S3-001"], unknown(graph(*SAGEMAKER)))
    notebook = graph(*SAGEMAKER).one("aws:sagemaker/notebookInstance:NotebookInstance")
    args = resource_args(notebook)
    args.props = engine_props({**notebook.inputs, "kmsKeyId": UNKNOWN_STRING_VALUE})
    with pytest.raises(UnknownValueError):
        POLICIES["MLOPS-SM-001"].validate(args, lambda message, urn=None: pytest.fail(message))


def _policy_dir(rendered, tmp_path: Path, advisory: dict[str, str] | None = None) -> Path:
    """A copy of a generated repo's policy pack next to its blueprint (optionally edited)."""
    repo = rendered(1, "sagemaker", "github")
    shutil.copytree(repo / "infra/policy", tmp_path / "infra/policy")
    blueprint = yaml.safe_load((repo / "mlops-bp.yaml").read_text())
    if advisory is not None:
        blueprint["rules"] = {"advisory": advisory}
    (tmp_path / "mlops-bp.yaml").write_text(yaml.safe_dump(blueprint))
    return tmp_path / "infra/policy"


def test_the_generated_pack_builds_the_policies_from_the_blueprint(rendered, tmp_path):
    pack = runpy.run_path(str(_policy_dir(rendered, tmp_path) / "__main__.py"), run_name="policy_pack")
    assert [p.name for p in pack["POLICIES"]] == list(RULE_IDS)
    assert all(p.enforcement_level is EnforcementLevel.MANDATORY for p in pack["POLICIES"])


def test_a_rule_the_blueprint_makes_advisory_only_warns(rendered, tmp_path):
    reason = "images are re-tagged by the release process"
    policy_dir = _policy_dir(rendered, tmp_path, {"MLOPS-ECR-002": reason})
    pack = {p.name: p for p in runpy.run_path(str(policy_dir / "__main__.py"), run_name="policy_pack")["POLICIES"]}
    assert pack["MLOPS-ECR-002"].enforcement_level is EnforcementLevel.ADVISORY
    assert reason in pack["MLOPS-ECR-002"].description
    assert {name for name, p in pack.items() if p.enforcement_level is EnforcementLevel.ADVISORY} == {"MLOPS-ECR-002"}


def _requirement(lines: list[str], name: str) -> str:
    return next(line for line in lines if re.match(rf"{name}\b", line))


@pytest.mark.parametrize(("level", "platform", "ci"), [(0, "sagemaker", "github"), (3, "kubernetes", "gitlab")])
def test_generated_policy_pack_files(rendered, level, platform, ci):
    repo = rendered(level, platform, ci)
    project = yaml.safe_load((repo / "infra/policy/PulumiPolicy.yaml").read_text())
    assert project["runtime"] == {"name": "python", "options": {"virtualenv": ".venv"}}
    assert "fraud-detect" in project["description"]
    lines = [line for line in (repo / "infra/policy/requirements.txt").read_text().splitlines() if line[:1] not in "#"]
    infra = (repo / "infra/requirements.txt").read_text().splitlines()
    # The same mlops-bp as the Pulumi program, and the pulumi-policy this project tests with.
    assert _requirement(lines, "mlops-bp") == _requirement(infra, "mlops-bp")
    pinned = Requirement(_requirement(lines, "pulumi-policy"))
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["test"]
    assert str(pinned) in {str(Requirement(extra)) for extra in extras}
    assert pinned.specifier.contains(version("pulumi-policy"))
    assert "'__main__'" in (repo / "infra/policy/__main__.py").read_text().replace('"', "'")


# `--policy-pack PATH` (CLI) and `policyPacks:` (pulumi/actions) in a generated repo's CI files.
POLICY_PACK_FLAG = re.compile(r"(?:--policy-pack[= ]|policyPacks:\s*\|?\s*)[\"']?([^\s\"']+)")
WORKSPACE_PREFIXES = (
    "${{ github.workspace }}/",
    "$GITHUB_WORKSPACE/",
    "$CI_PROJECT_DIR/",
    "${CI_PROJECT_DIR}/",
    "$PWD/",
)


def _policy_pack_paths(repo: Path) -> list[str]:
    texts = [p.read_text() for p in [*repo.glob(".github/workflows/*.yml"), repo / ".gitlab-ci.yml"] if p.is_file()]
    found = []
    for text in texts:
        for path in POLICY_PACK_FLAG.findall(text.replace("${{ github.workspace }}", "$GITHUB_WORKSPACE")):
            for prefix in WORKSPACE_PREFIXES:
                path = path.removeprefix(prefix)
            found.append(path)
    return found


@pytest.mark.parametrize("ci", ["github", "gitlab"])
def test_the_workflows_policy_pack_paths_exist(rendered, ci):
    repo = rendered(1, "sagemaker", ci)
    for path in _policy_pack_paths(repo):
        # Relative paths are taken from the repo root or from infra/ (`--cwd infra`).
        assert any((base / path / "PulumiPolicy.yaml").is_file() for base in (repo, repo / "infra")), path


PULUMI_RUN = re.compile(r"command: (?:preview|up)\b|pulumi (?:preview|up) --")


@pytest.mark.parametrize("level", [1, 3])
@pytest.mark.parametrize("ci", ["github", "gitlab"])
def test_every_preview_and_up_runs_the_policy_pack(rendered, ci, level):
    """Each `pulumi preview`/`up` a workflow runs (pulumi/actions command or CLI) names the
    pack, after a step that installs its requirements."""
    repo = rendered(level, "sagemaker", ci)
    texts = [p.read_text() for p in [*repo.glob(".github/workflows/*.yml"), repo / ".gitlab-ci.yml"] if p.is_file()]
    runs = sum(
        len(PULUMI_RUN.findall("\n".join(line for line in t.splitlines() if not line.lstrip().startswith("#"))))
        for t in texts
    )
    paths = _policy_pack_paths(repo)
    assert runs and len(paths) == runs
    assert all("infra/policy/requirements.txt" in t for t in texts if "policy" in t)
