"""Rendering the team-repo template: the full option matrix, file sets, validity, determinism."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from mlops_bp.blueprints import UserError, json_schema, load_blueprint
from mlops_bp.templates.layout import repo_files
from mlops_bp.templates.render import TEMPLATE_DIR, readme_schedule, render_tree, template_context

from .conftest import make_blueprint

PKG = "fraud_detect"
COMMON = {
    ".dockerignore",
    ".gitignore",
    ".mlops-bp.json",
    "Dockerfile",
    "Makefile",
    "README.md",
    "mlops-bp.schema.json",
    "mlops-bp.yaml",
    "pyproject.toml",
    "infra/Pulumi.yaml",
    "infra/__main__.py",
    "infra/policy/PulumiPolicy.yaml",
    "infra/policy/__main__.py",
    "infra/policy/requirements.txt",
    "infra/requirements.txt",
    "infra/tests/test_security.py",
    *(
        f"src/{PKG}/{m}.py"
        for m in ("__init__", "config", "data", "evaluate", "features", "model_io", "serve", "train")
    ),
    "tests/conftest.py",
    "tests/test_data.py",
    "tests/test_serve.py",
    "tests/test_train.py",
}
BY_LEVEL = {
    0: {"github": {".github/dependabot.yml"}},
    1: {
        "github": {".github/workflows/ci.yml", ".github/workflows/deploy.yml"},
        "gitlab": {".gitlab-ci.yml"},
        "all": {"infra/deploy_config.py"},
    },
    2: {
        "github": {".github/workflows/train.yml"},
        "all": {
            ".dvc/.gitignore",
            ".dvc/config",
            ".dvcignore",
            "train.Dockerfile",
            f"src/{PKG}/container.py",
            f"src/{PKG}/preprocess.py",
            *(f"tests/test_{m}.py" for m in ("container", "evaluate", "pipeline", "preprocess")),
        },
    },
    3: {"all": {"tests/integration/test_endpoint.py"}},
    4: {"all": {f"src/{PKG}/monitoring.py", "tests/test_monitoring.py"}},
}
MATRIX = [
    (level, platform, ci)
    for level in range(5)
    for platform in ("sagemaker", "kubernetes")
    for ci in ("github", "gitlab")
]


def expected_files(level: int, ci: str) -> set[str]:
    files = set(COMMON)
    envs = ["dev"] if level < 3 else ["dev", "staging", "prod"]
    files.update(f"infra/Pulumi.{env}.yaml" for env in envs)
    for added_at, groups in BY_LEVEL.items():
        if level >= added_at:
            files |= groups.get(ci, set()) | groups.get("all", set())
    return files


class _CiLoader(yaml.SafeLoader):
    """GitLab CI uses the custom tag !reference."""


_CiLoader.add_constructor("!reference", lambda loader, node: loader.construct_sequence(node))


def _check_parses(path: Path, text: str) -> None:
    suffix = path.suffix
    if suffix in (".yaml", ".yml"):
        assert list(yaml.load_all(text, Loader=_CiLoader)), path  # noqa: S506 - a SafeLoader subclass
    elif suffix == ".toml":
        tomllib.loads(text)
    elif suffix == ".json":
        json.loads(text)
    elif suffix == ".py":
        ast.parse(text, filename=str(path))


@pytest.mark.parametrize(("level", "platform", "ci"), MATRIX)
def test_matrix_file_set_and_validity(rendered, level, platform, ci) -> None:
    repo = rendered(level, platform, ci)
    files = {p.relative_to(repo).as_posix() for p in repo.rglob("*") if p.is_file()}
    assert files == expected_files(level, ci)
    for rel in sorted(files):
        text = (repo / rel).read_text(encoding="utf-8")
        assert not re.search(r"(?<!\$)\{\{|\{%|\{#", text), f"{rel}: unrendered template syntax"
        assert "$environment" not in text, rel
        _check_parses(repo / rel, text)
    lint = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "."], cwd=repo, capture_output=True, text=True
    )
    assert lint.returncode == 0, lint.stdout


def test_layout_function_agrees_with_the_independent_expectation() -> None:
    for level, _, ci in MATRIX:
        envs = ["dev"] if level < 3 else ["dev", "staging", "prod"]
        assert set(repo_files(level, ci, PKG, envs)) == expected_files(level, ci)


def test_same_input_gives_byte_identical_files(tmp_path) -> None:
    blueprint = make_blueprint(4, "kubernetes")
    first = render_tree(blueprint, "github", tmp_path / "a")
    second = render_tree(blueprint, "github", tmp_path / "b")
    assert first == second
    for rel in first:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel


def test_blueprint_files_record_how_the_repo_was_made(rendered) -> None:
    repo = rendered(3, "sagemaker", "gitlab")
    record = {"ci": "gitlab", "stack_builder": "mlops-bp==0.1.0", "template_version": "0.1.0"}
    assert json.loads((repo / ".mlops-bp.json").read_text()) == record
    assert (repo / ".mlops-bp.json").read_text() == json.dumps(record, indent=2, sort_keys=True) + "\n"
    text = (repo / "mlops-bp.yaml").read_text()
    assert text.startswith("# yaml-language-server: $schema=mlops-bp.schema.json\n")
    assert load_blueprint(repo / "mlops-bp.yaml") == make_blueprint(3, "sagemaker", "gitlab")
    assert (repo / "mlops-bp.schema.json").read_text() == json_schema()


def test_one_pulumi_stack_per_environment(rendered) -> None:
    repo = rendered(3, "kubernetes", "github")
    assert yaml.safe_load((repo / "infra/Pulumi.yaml").read_text())["runtime"]["name"] == "python"
    for env in ("dev", "staging", "prod"):
        config = yaml.safe_load((repo / f"infra/Pulumi.{env}.yaml").read_text())["config"]
        assert config == {"mlops-bp:config": "../mlops-bp.yaml", "mlops-bp:environment": env}
    main = (repo / "infra/__main__.py").read_text()
    assert 'run_from_config(pulumi.Config("mlops-bp"), pulumi.get_stack())' in main
    assert "mlops-bp==0.1.0" in (repo / "infra/requirements.txt").read_text().splitlines()


def _workflow(repo: Path, name: str) -> dict:
    return yaml.safe_load((repo / ".github/workflows" / name).read_text())


def _steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def test_workflows_use_oidc_pinned_actions_and_least_privilege(rendered) -> None:
    repo = rendered(4, "sagemaker", "github")
    for name in ("ci.yml", "train.yml", "deploy.yml"):
        workflow = _workflow(repo, name)
        text = (repo / ".github/workflows" / name).read_text()
        assert workflow["permissions"] == {"contents": "read"}, name
        assert "aws-access-key-id" not in text and "AWS_SECRET_ACCESS_KEY" not in text
        for step in _steps(workflow):
            if "uses" in step:
                assert re.fullmatch(r"[\w-]+/[\w-]+@[0-9a-f]{40}", step["uses"]), step["uses"]
        for job_name, job in workflow["jobs"].items():
            roles = [
                s["with"]["role-to-assume"]
                for s in job["steps"]
                if s.get("uses", "").startswith("aws-actions/configure-aws-credentials")
            ]
            if not roles:
                continue
            assert job["permissions"]["id-token"] == "write"
            if job_name == "pr-preview":  # pull requests: the read-only preview role, no environment
                assert "environment" not in job and roles == ["${{ vars.AWS_PREVIEW_ROLE_ARN }}"]
            else:
                assert job["environment"] in {"dev", "staging", "prod"}
                assert roles == ["${{ vars.AWS_ROLE_ARN }}"]
    ci = _workflow(repo, "ci.yml")
    assert {"test", "image", "preview", "pr-image", "pr-preview"} <= set(ci["jobs"])
    for job in ("preview", "pr-preview"):
        assert any(s.get("with", {}).get("command") == "preview" for s in ci["jobs"][job]["steps"]), job


def test_training_workflow_runs_on_demand_only(rendered) -> None:
    """Scheduled runs and retraining on drift are the stack's (Scheduler, drift rule): exactly
    one path each. The workflow trains a commit by hand, with the images CI pushed for it."""
    for level in (2, 4):
        train = _workflow(rendered(level, "sagemaker", "github"), "train.yml")
        assert train[True] == {"workflow_dispatch": None}  # PyYAML reads the key `on` as True
        steps = " ".join(s.get("run", "") for s in train["jobs"]["train"]["steps"])
        assert "train-$GITHUB_SHA" in steps and "docker build" not in steps


def test_ci_pushes_the_images_deploys_and_training_use(rendered) -> None:
    for level, tags in ((1, ['"$GITHUB_SHA"']), (2, ['"$GITHUB_SHA"', '"train-$GITHUB_SHA"'])):
        image = _workflow(rendered(level, "sagemaker", "github"), "ci.yml")["jobs"]["image"]
        push = next(s["run"] for s in image["steps"] if s.get("name", "").startswith("Push"))
        assert push.split("\n")[0] == f"for tag in {' '.join(tags)}; do"


def test_deploy_goes_through_staging_and_tests_before_prod(rendered) -> None:
    deploy = _workflow(rendered(3, "kubernetes", "github"), "deploy.yml")
    # Approvals dispatch deploys where a model registry sends them (SageMaker); here by hand.
    assert deploy[True] == {"workflow_dispatch": None}
    on_sagemaker = _workflow(rendered(3, "sagemaker", "github"), "deploy.yml")
    assert list(on_sagemaker[True]) == ["workflow_dispatch"]
    assert on_sagemaker[True]["workflow_dispatch"]["inputs"]["model_package_arn"]["type"] == "string"
    jobs = deploy["jobs"]
    assert list(jobs) == ["deploy-dev", "integration-dev", "deploy-staging", "integration-staging", "deploy-prod"]
    assert jobs["deploy-prod"]["needs"] == "integration-staging"
    assert jobs["deploy-prod"]["environment"] == "prod"
    assert any("pytest tests/integration" in s.get("run", "") for s in jobs["integration-staging"]["steps"])


def test_gitlab_pipeline_per_level(rendered) -> None:
    level1 = yaml.load((rendered(1, "sagemaker", "gitlab") / ".gitlab-ci.yml").read_text(), Loader=_CiLoader)  # noqa: S506
    assert level1["stages"] == ["test", "build", "preview", "deploy-dev"]
    assert any("deploy_config.py" in line for line in level1["deploy-dev"]["script"])
    assert level1[".aws"]["id_tokens"]["AWS_ID_TOKEN"]["aud"] == "sts.amazonaws.com"
    level4 = yaml.load((rendered(4, "kubernetes", "gitlab") / ".gitlab-ci.yml").read_text(), Loader=_CiLoader)  # noqa: S506
    assert level4["stages"][-3:] == ["deploy-dev", "deploy-staging", "deploy-prod"]
    assert level4["deploy-prod"]["rules"][0]["when"] == "manual"
    assert "when" not in level4["deploy-staging"]["rules"][0]
    assert [rule["if"] for rule in level4["train"]["rules"]] == [
        '$CI_PIPELINE_SOURCE == "web" && $TRAIN == "true" && $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH'
    ]
    assert all('$TRAIN != "true"' in rule["if"] for rule in level4["deploy-dev"]["rules"] if "web" in rule["if"])


def test_dockerfiles_are_multi_stage_non_root_pinned_with_healthcheck(rendered) -> None:
    repo = rendered(2, "kubernetes", "github")
    for name in ("Dockerfile", "train.Dockerfile"):
        text = (repo / name).read_text()
        froms = re.findall(r"^FROM (\S+)", text, re.MULTILINE)
        assert len(froms) == 2
        assert all(re.fullmatch(r"python:3\.11\.\d+-slim-bookworm@sha256:[0-9a-f]{64}", f) for f in froms)
        assert re.search(r"^USER 10001", text, re.MULTILINE)
        assert "HEALTHCHECK" in text


def test_level_content_of_the_ml_code(rendered) -> None:
    level1 = rendered(1, "sagemaker", "github")
    assert "/metrics" not in (level1 / f"src/{PKG}/serve.py").read_text()
    level4 = rendered(4, "sagemaker", "github")
    assert '@app.get("/metrics")' in (level4 / f"src/{PKG}/serve.py").read_text()
    assert "CloudWatchMetrics" in (level4 / f"src/{PKG}/monitoring.py").read_text()
    assert "CloudWatchMetrics" not in (rendered(4, "kubernetes", "github") / f"src/{PKG}/monitoring.py").read_text()
    assert "DRIFT_THRESHOLD = 0.2" in (level4 / f"src/{PKG}/config.py").read_text()


@pytest.mark.parametrize(
    ("level", "platform", "bakes"),
    [
        (0, "sagemaker", True),
        (1, "sagemaker", True),
        (2, "sagemaker", False),
        (1, "kubernetes", True),
        (2, "kubernetes", False),
    ],
)
def test_only_an_image_without_a_training_pipeline_carries_its_model(rendered, level, platform, bakes) -> None:
    dockerfile = (rendered(level, platform, "github") / "Dockerfile").read_text()
    trains = f"python -m {PKG}.train --model-dir /opt/ml/model" in dockerfile
    copies = "COPY --from=build /opt/ml/model /opt/ml/model" in dockerfile
    assert trains == copies == bakes


def test_training_entry_points_follow_the_sagemaker_contract(rendered) -> None:
    sagemaker = (rendered(2, "sagemaker", "github") / f"src/{PKG}/train.py").read_text()
    assert "TrainingContainer.from_environment()" in sagemaker
    kubernetes = (rendered(2, "kubernetes", "github") / f"src/{PKG}/train.py").read_text()
    assert "TrainingContainer" not in kubernetes
    for repo in (rendered(2, "sagemaker", "github"), rendered(4, "kubernetes", "gitlab")):
        assert not re.search(
            r"[\"']SM_(CHANNEL|MODEL_DIR|OUTPUT)", "".join(p.read_text() for p in (repo / "src").rglob("*.py"))
        )


@pytest.mark.parametrize(
    ("schedule", "shown"),
    [
        ("cron(0 3 ? * MON *)", "0 3 * * 1"),
        ("cron(15 2 ? * MON-FRI *)", "15 2 * * 1-5"),
        ("cron(15 2 ? * 2-6 *)", "15 2 * * 1-5"),
        ("cron(0 4 1 * ? *)", "0 4 1 * *"),
        ("cron(0 5 ? * 1,7 *)", "0 5 * * 0,6"),
        ("rate(6 hours)", "0 */6 * * *"),
        ("rate(30 minutes)", "*/30 * * * *"),
        # no exact five-field cron: the README shows the AWS expression SageMaker runs
        ("rate(2 days)", "rate(2 days)"),
        ("cron(0 3 L * ? *)", "cron(0 3 L * ? *)"),
    ],
)
def test_readme_schedule(schedule, shown) -> None:
    assert readme_schedule(schedule) == shown


def test_context_rejects_what_the_repo_cannot_express() -> None:
    with pytest.raises(UserError, match="ci: must be one of github, gitlab"):
        template_context(make_blueprint(1), "jenkins")
    with pytest.raises(UserError, match="training.metric_name"):
        template_context(make_blueprint(2, training={"metric_name": "logloss"}), "github")


def test_cookiecutter_json_defaults_match_a_default_blueprint() -> None:
    defaults = json.loads((TEMPLATE_DIR / "cookiecutter.json").read_text())
    context = template_context(make_blueprint(1, github=None, name="mlops-demo"), "github")
    assert set(defaults) == set(context)
    for key, value in defaults.items():
        if key == "package_name":
            continue  # rendered by cookiecutter from project_name
        assert (value[0] if isinstance(value, list) and key[0] != "_" else value) == context[key], key


def test_plain_cookiecutter_renders_the_same_template(tmp_path) -> None:
    from cookiecutter.main import cookiecutter

    blueprint = make_blueprint(4, "sagemaker")
    replay = tmp_path / "context.json"
    replay.write_text(json.dumps({"cookiecutter": template_context(blueprint, "github")}))
    plain = Path(cookiecutter(str(TEMPLATE_DIR), replay=str(replay), output_dir=str(tmp_path / "plain")))
    ours = tmp_path / "ours"
    files = render_tree(blueprint, "github", ours)
    plain_files = sorted(p.relative_to(plain) for p in plain.rglob("*") if p.is_file())
    assert plain_files == [
        f for f in files if f.name not in {".mlops-bp.json", "mlops-bp.yaml", "mlops-bp.schema.json"}
    ]
    for rel in plain_files:
        assert (plain / rel).read_bytes() == (ours / rel).read_bytes(), rel


def test_the_ci_system_must_match_the_trusted_repository() -> None:
    with pytest.raises(UserError, match=r"^github: a GitLab repo's pipelines cannot use a GitHub trust"):
        template_context(make_blueprint(1, ci="github"), "gitlab")
    with pytest.raises(UserError, match=r"^gitlab: the blueprint trusts GitLab pipelines"):
        template_context(make_blueprint(1, ci="gitlab"), "github")
    assert template_context(make_blueprint(1, ci="gitlab"), "gitlab")["gitlab"] == "acme/fraud-detect"
