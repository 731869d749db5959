"""The generated CI gives each AWS role only to the job it is meant for (issue 12).

GitHub: jobs with an `environment:` (whose role trusts only that environment) never run for pull
requests; pull requests preview with the read-only preview role and no secrets; the approval
dispatches the deploy workflow with an input that never reaches a script unquoted.
GitLab: only the jobs that need AWS request an ID token, and each deploy job runs only on the ref
its environment's role trusts (main, `v*-rc*` tags, `v*` tags that are not `*-rc*`).
Every environment after the first serves what `mlops-bp promote` copied into it (SageMaker).
"""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from pathlib import Path

import pytest
import yaml

from mlops_bp.templates.render import render_tree

from .conftest import make_blueprint

LEVELS = range(5)
PLATFORMS = ("sagemaker", "kubernetes")
MAIN_ONLY = "github.ref == 'refs/heads/main'"
ON_PULL_REQUESTS = "github.event_name == 'pull_request'"
THREE = [{"name": "dev"}, {"name": "staging"}, {"name": "prod", "requires_approval": True}]
TWO = [{"name": "dev"}, {"name": "prod", "requires_approval": True}]


class _GitlabLoader(yaml.SafeLoader):
    """GitLab CI's custom tag !reference."""


_GitlabLoader.add_constructor("!reference", lambda loader, node: loader.construct_sequence(node))


@pytest.fixture(scope="module")
def staged(tmp_path_factory):
    """staged(level, platform, ci, environments) -> a repo rendered with those environments."""
    cache: dict[tuple, Path] = {}

    def render(level: int, platform: str, ci: str, environments: list[dict]) -> Path:
        key = (level, platform, ci, tuple(e["name"] for e in environments))
        if key not in cache:
            dest = tmp_path_factory.mktemp(f"l{level}-{platform}-{ci}-{len(environments)}") / "repo"
            blueprint = make_blueprint(level, platform, ci, environments=environments)
            render_tree(blueprint, ci, dest)
            cache[key] = dest
        return cache[key]

    return render


def _workflows(repo: Path) -> dict[str, dict]:
    return {p.name: yaml.safe_load(p.read_text()) for p in sorted((repo / ".github/workflows").glob("*.yml"))}


def _pipeline(repo: Path) -> dict:
    return yaml.load((repo / ".gitlab-ci.yml").read_text(), Loader=_GitlabLoader)  # noqa: S506 - a SafeLoader


def _resolved(pipeline: dict, name: str) -> dict:
    """A GitLab job with its `extends:` merged in (hashes deep-merged, later keys win)."""

    def merge(base: dict, over: dict) -> dict:
        merged = dict(base)
        for key, value in over.items():
            both_dicts = isinstance(value, dict) and isinstance(merged.get(key), dict)
            merged[key] = merge(merged[key], value) if both_dicts else value
        return merged

    job = pipeline[name]
    parents = job.get("extends", [])
    resolved: dict = {}
    for parent in [parents] if isinstance(parents, str) else parents:
        resolved = merge(resolved, _resolved(pipeline, parent))
    return merge(resolved, {k: v for k, v in job.items() if k != "extends"})


def _jobs(pipeline: dict) -> list[str]:
    reserved = {"stages", "variables", "workflow", "default", "include"}
    return [name for name in pipeline if not name.startswith(".") and name not in reserved]


# A minimal evaluator of the GitLab rule expressions the pipeline uses: `&&` of comparisons.
_CLAUSE = re.compile(r'^\$(\w+) (==|!=|=~|!~) (?:"([^"]*)"|\$(\w+)|/(.*)/)$')


def _holds(expression: str, variables: dict[str, str]) -> bool:
    for clause in expression.split(" && "):
        match = _CLAUSE.match(clause.strip())
        assert match, f"the evaluator does not know {clause!r}"
        name, op, literal, other, pattern = match.groups()
        value = variables.get(name)
        if op in ("==", "!="):
            expected = literal if other is None else variables.get(other)
            if (value == expected) != (op == "=="):
                return False
        elif (value is not None and re.search(pattern, value) is not None) != (op == "=~"):
            return False
    return True


def _runs(job: dict, variables: dict[str, str]) -> bool:
    return any(_holds(rule["if"], variables) for rule in job.get("rules", []))


def _pipelines() -> dict[str, dict[str, str]]:
    main = {"CI_DEFAULT_BRANCH": "main", "CI_COMMIT_REF_NAME": "main", "CI_COMMIT_BRANCH": "main"}
    feature = {"CI_DEFAULT_BRANCH": "main", "CI_COMMIT_REF_NAME": "feature", "CI_COMMIT_BRANCH": "feature"}

    def tag(name: str, source: str = "push") -> dict[str, str]:
        return {
            "CI_DEFAULT_BRANCH": "main",
            "CI_COMMIT_REF_NAME": name,
            "CI_COMMIT_TAG": name,
            "CI_PIPELINE_SOURCE": source,
        }

    return {
        "push to main": {**main, "CI_PIPELINE_SOURCE": "push"},
        "run on main": {**main, "CI_PIPELINE_SOURCE": "web"},
        "model approved": {**main, "CI_PIPELINE_SOURCE": "api", "MODEL_APPROVED": "true"},
        "train on main": {**main, "CI_PIPELINE_SOURCE": "web", "TRAIN": "true"},
        "run on a branch": {**feature, "CI_PIPELINE_SOURCE": "web"},
        "merge request": {**feature, "CI_PIPELINE_SOURCE": "merge_request_event"},
        "push a branch": {**feature, "CI_PIPELINE_SOURCE": "push"},
        "rc tag": tag("v1.4.0-rc1"),
        "rc tag, run by hand": tag("v1.4.0-rc2", "web"),
        "release tag": tag("v1.4.0"),
        "other tag": tag("nightly-1"),
    }


def _trusted(position: str, ref_type: str, ref: str) -> bool:
    """The contract of the stacks' GitLab trust per environment position (first, middle, last)."""
    if position == "first":
        return ref_type == "branch" and ref == "main"
    if position == "middle":
        return ref_type == "tag" and fnmatchcase(ref, "v*-rc*")
    return ref_type == "tag" and fnmatchcase(ref, "v*") and not fnmatchcase(ref, "*-rc*")


# --- GitHub -------------------------------------------------------------------------------


@pytest.mark.parametrize("level", range(1, 5))
@pytest.mark.parametrize("platform", PLATFORMS)
def test_github_jobs_with_an_environment_never_run_for_pull_requests(rendered, level, platform) -> None:
    for name, workflow in _workflows(rendered(level, platform, "github")).items():
        triggers = workflow[True]  # YAML 1.1 reads the `on:` key as True
        if "pull_request" not in triggers:
            assert set(triggers) == {"workflow_dispatch"}, name
        for job_name, job in workflow["jobs"].items():
            where = f"{name}:{job_name}"
            if "environment" in job and "pull_request" in triggers:
                assert job["if"] == MAIN_ONLY, where
            if job.get("if") == ON_PULL_REQUESTS:
                assert "environment" not in job, where
                assert "secrets." not in yaml.safe_dump(job), where
                assert set(job.get("permissions", {"contents": "read"}).items()) <= {
                    ("contents", "read"),
                    ("id-token", "write"),
                }, where
        pr_jobs = [j for j, job in workflow["jobs"].items() if job.get("if") == ON_PULL_REQUESTS]
        with_token = [j for j in pr_jobs if workflow["jobs"][j].get("permissions", {}).get("id-token")]
        if name == "ci.yml":
            assert pr_jobs == ["pr-image", "pr-preview"] and with_token == ["pr-preview"]


def test_github_pull_requests_preview_with_the_preview_role_or_say_why_not(rendered) -> None:
    job = _workflows(rendered(3, "sagemaker", "github"))["ci.yml"]["jobs"]["pr-preview"]
    steps = job["steps"]
    gate = next(s for s in steps if s.get("id") == "cloud")
    assert gate["env"]["PREVIEW_ROLE_ARN"] == "${{ vars.AWS_PREVIEW_ROLE_ARN }}"
    assert '[ -z "$PREVIEW_ROLE_ARN" ]' in gate["run"] and "::notice" in gate["run"]
    assert 'echo "enabled=true" >> "$GITHUB_OUTPUT"' in gate["run"]
    after = steps[steps.index(gate) + 1 :]
    assert all(s["if"] == "steps.cloud.outputs.enabled == 'true'" for s in after)
    cloud = [s for s in after if "uses" in s]
    assert [s["uses"].split("@")[0] for s in cloud] == ["aws-actions/configure-aws-credentials", "pulumi/actions"]
    assert cloud[0]["with"]["role-to-assume"] == "${{ vars.AWS_PREVIEW_ROLE_ARN }}"
    assert cloud[1]["with"]["command"] == "preview" and "env" not in cloud[1]
    # The preview enforces the rule pack (the policy pack's requirements are installed first).
    assert cloud[1]["with"]["policyPacks"] == "${{ github.workspace }}/infra/policy"
    assert [s["run"] for s in after if "run" in s] == [
        "python -m venv infra/policy/.venv && infra/policy/.venv/bin/python -m pip install -r "
        "infra/policy/requirements.txt"
    ]
    assert any(s.get("run") == "python -m pytest infra/tests" for s in steps[: steps.index(gate)])


@pytest.mark.parametrize("level", range(1, 5))
@pytest.mark.parametrize("platform", PLATFORMS)
def test_github_no_expression_is_pasted_into_a_script(rendered, level, platform) -> None:
    """Inputs, event fields and outputs reach scripts through `env:` only (template injection)."""
    for name, workflow in _workflows(rendered(level, platform, "github")).items():
        for job_name, job in workflow["jobs"].items():
            for step in job["steps"]:
                assert "${{" not in step.get("run", ""), f"{name}:{job_name}: {step.get('name')}"


def test_github_approval_dispatches_the_deploy_workflow_with_the_package(rendered) -> None:
    deploy = _workflows(rendered(3, "sagemaker", "github"))["deploy.yml"]
    assert deploy[True] == {
        "workflow_dispatch": {
            "inputs": {
                "model_package_arn": {
                    "description": "Model package ARN to serve (default: the latest approved version)",
                    "type": "string",
                    "required": False,
                    "default": "",
                }
            }
        }
    }
    assert deploy["env"]["MODEL_PACKAGE_ARN"] == "${{ inputs.model_package_arn }}"
    pin = next(s["run"] for s in deploy["jobs"]["deploy-dev"]["steps"] if "deploy_config.py" in s.get("run", ""))
    assert pin.endswith('--model-package-arn "$MODEL_PACKAGE_ARN"')
    assert deploy["jobs"]["deploy-dev"]["if"] == MAIN_ONLY
    # No registry, no package to choose: the workflow takes no input.
    assert _workflows(rendered(1, "sagemaker", "github"))["deploy.yml"][True] == {"workflow_dispatch": None}


# --- promotion ------------------------------------------------------------------------------


def _promotion_and_pin(commands: list[str]) -> tuple[list[str], list[str]]:
    return [c for c in commands if "mlops-bp promote" in c], [c for c in commands if "deploy_config.py" in c]


@pytest.mark.parametrize("level", range(1, 5))
@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("ci", ["github", "gitlab"])
def test_later_environments_deploy_what_was_promoted_into_them(staged, level, platform, ci) -> None:
    repo = staged(level, platform, ci, THREE)
    sha = '"$GITHUB_SHA"' if ci == "github" else '"$CI_COMMIT_SHA"'
    registry = level >= 2 and platform == "sagemaker"
    for position, env in enumerate(["dev", "staging", "prod"]):
        if ci == "github":
            job = _workflows(repo)["deploy.yml"]["jobs"][f"deploy-{env}"]
            commands = [" ".join(s["run"].split()) for s in job["steps"] if "run" in s]
        else:
            commands = [" ".join(c.split()) for c in _pipeline(repo)[f"deploy-{env}"]["script"]]
        promotions, pins = _promotion_and_pin(commands)
        assert len(pins) == 1, (env, commands)
        if position == 0 or platform == "kubernetes":
            assert promotions == [], env
            continue
        assert len(promotions) == 1 and commands.index(promotions[0]) < commands.index(pins[0]), env
        promote = promotions[0]
        assert promote.startswith(f"mlops-bp promote --to {env} --image-tag {sha} ")
        assert promote.endswith("--output promoted.json")
        assert ('--model-package-arn "$MODEL_PACKAGE_ARN"' in promote) == registry
        assert ("--model-package-arn" in pins[0]) == registry
        if registry and ci == "github":
            assert pins[0].endswith('--model-package-arn "$(jq -r .model_package_arn promoted.json)"')
        if registry and ci == "gitlab":
            assert pins[0].endswith('--model-package-arn "$promoted_arn"')
            assert any(c.startswith('promoted_arn="$(python -c') and "promoted.json" in c for c in commands)


# --- GitLab ---------------------------------------------------------------------------------


@pytest.mark.parametrize("level", range(1, 5))
@pytest.mark.parametrize("platform", PLATFORMS)
def test_gitlab_only_the_jobs_that_need_aws_request_an_id_token(rendered, level, platform) -> None:
    pipeline = _pipeline(rendered(level, platform, "gitlab"))
    envs = [e.name for e in make_blueprint(level, platform, "gitlab").environments]
    with_token = {job for job in _jobs(pipeline) if "id_tokens" in _resolved(pipeline, job)}
    expected = {"image", *(f"deploy-{env}" for env in envs)} | ({"train"} if level >= 2 else set())
    assert with_token == expected
    assert {"test", "mr-image", "preview"} <= set(_jobs(pipeline)) - with_token


@pytest.mark.parametrize("environments", [THREE, TWO, [{"name": "dev"}]], ids=["three", "two", "one"])
@pytest.mark.parametrize(("level", "platform"), [(1, "kubernetes"), (2, "sagemaker"), (3, "sagemaker")])
def test_gitlab_deploys_each_environment_only_from_the_ref_its_role_trusts(
    staged, level, platform, environments
) -> None:
    pipeline = _pipeline(staged(level, platform, "gitlab", environments))
    names = [e["name"] for e in environments]
    ran: dict[str, set[str]] = {name: set() for name in names}
    for label, variables in _pipelines().items():
        if not any(_holds(rule["if"], variables) for rule in pipeline["workflow"]["rules"]):
            continue
        ref_type = "tag" if "CI_COMMIT_TAG" in variables else "branch"
        for position, env in enumerate(names):
            if not _runs(pipeline[f"deploy-{env}"], variables):
                continue
            ran[env].add(label)
            where = "first" if position == 0 else "last" if position == len(names) - 1 else "middle"
            assert _trusted(where, ref_type, variables["CI_COMMIT_REF_NAME"]), f"deploy-{env} runs on {label}"
        nothing_deploys = ["merge request", "push a branch", "run on a branch", "other tag"]
        if label in nothing_deploys + (["train on main"] if level >= 2 else []):
            assert not any(_runs(pipeline[f"deploy-{env}"], variables) for env in names), label
        running = {job for job in _jobs(pipeline) if _runs(_resolved(pipeline, job), variables)}
        with_token = {job for job in running if "id_tokens" in _resolved(pipeline, job)}
        if label == "merge request":
            assert with_token == set(), with_token
    assert ran[names[0]] >= {"run on main"}
    if level >= 3 and platform == "sagemaker":
        assert "model approved" in ran[names[0]]
    if len(names) == 3:
        assert ran["staging"] == {"rc tag", "rc tag, run by hand"}
    if len(names) > 1:
        assert ran[names[-1]] == {"release tag"}


def test_gitlab_documents_the_protected_tags_and_environments(staged) -> None:
    repo = staged(3, "sagemaker", "gitlab", THREE)
    text = (repo / ".gitlab-ci.yml").read_text() + (repo / "README.md").read_text()
    assert "Settings > Repository > Protected tags" in text
    assert "Settings > CI/CD > Protected environments" in text
