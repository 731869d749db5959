"""Which files a generated team repo has, by catalog feature and CI choice: the one place that
decides it.

The template tree (team-repo/) holds every file any repo can have. After cookiecutter renders
it, the post-generation hook calls `finalize`, which writes one Pulumi stack file per
environment and removes whatever `repo_files` does not list. The standard library and the pure
level catalog only: the hook imports this module in cookiecutter's hook subprocess.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from string import Template

from mlops_bp.blueprints.catalog import features_at
from mlops_bp.blueprints.constants import CI_SYSTEMS

__all__ = ["CI_CHOICES", "GENERATED_FILES", "RULES", "STACK_STUB", "Rule", "finalize", "repo_files"]

CI_CHOICES = CI_SYSTEMS
# Written by render_tree from the blueprint itself, not by the template.
GENERATED_FILES = (".mlops-bp.json", "mlops-bp.schema.json", "mlops-bp.yaml")
# Rendered once by cookiecutter, then written once per environment with `$environment` filled in.
STACK_STUB = "infra/Pulumi.stack.yaml"


@dataclass(frozen=True)
class Rule:
    """A file (pattern) the repo has when the blueprint has `feature` (every repo: None), for
    one CI choice or for all."""

    path: str
    feature: str | None = None
    ci: str | None = None


RULES: tuple[Rule, ...] = (
    Rule(".dockerignore"),
    Rule(".gitignore"),
    Rule("Dockerfile"),
    Rule("Makefile"),
    Rule("README.md"),
    Rule("pyproject.toml"),
    Rule("infra/Pulumi.yaml"),
    Rule("infra/Pulumi.{environment}.yaml"),
    Rule("infra/__main__.py"),
    # mlops-bp's rule pack as a Pulumi policy pack (`--policy-pack infra/policy`).
    Rule("infra/policy/PulumiPolicy.yaml"),
    Rule("infra/policy/__main__.py"),
    Rule("infra/policy/requirements.txt"),
    Rule("infra/requirements.txt"),
    Rule("infra/tests/test_security.py"),
    Rule("src/{package}/__init__.py"),
    Rule("src/{package}/config.py"),
    Rule("src/{package}/data.py"),
    Rule("src/{package}/evaluate.py"),
    Rule("src/{package}/features.py"),
    Rule("src/{package}/model_io.py"),
    Rule("src/{package}/serve.py"),
    Rule("src/{package}/train.py"),
    Rule("tests/conftest.py"),
    Rule("tests/test_data.py"),
    Rule("tests/test_serve.py"),
    Rule("tests/test_train.py"),
    # Dependabot keeps the pinned base images (and, from level 1, actions) up to date.
    Rule(".github/dependabot.yml", None, "github"),
    # CI (lint, test, images, pulumi preview) reaches AWS through the OIDC role; deploys pin what
    # the endpoint serves.
    Rule(".github/workflows/ci.yml", "ci_oidc_role", "github"),
    Rule(".github/workflows/deploy.yml", "endpoint", "github"),
    Rule(".gitlab-ci.yml", "ci_oidc_role", "gitlab"),
    Rule("infra/deploy_config.py", "endpoint"),
    # The training pipeline runs as a job of the platform; its data is versioned with DVC.
    Rule(".dvc/.gitignore", "training_pipeline"),
    Rule(".dvc/config", "training_pipeline"),
    Rule(".dvcignore", "training_pipeline"),
    Rule("train.Dockerfile", "training_pipeline"),
    # The entry points of the training pipeline's steps (preprocess, train, evaluate) follow
    # SageMaker's container contract (container.py).
    Rule("src/{package}/container.py", "training_pipeline"),
    Rule("src/{package}/preprocess.py", "training_pipeline"),
    Rule("tests/test_container.py", "training_pipeline"),
    Rule("tests/test_evaluate.py", "training_pipeline"),
    Rule("tests/test_pipeline.py", "training_pipeline"),
    Rule("tests/test_preprocess.py", "training_pipeline"),
    Rule(".github/workflows/train.yml", "training_pipeline", "github"),
    # Staging and prod: staged deployment and an integration test against the live endpoint.
    Rule("tests/integration/test_endpoint.py", "multi_environment"),
    # Data capture: the serving app emits the metrics drift monitoring needs.
    Rule("src/{package}/monitoring.py", "data_capture"),
    Rule("tests/test_monitoring.py", "data_capture"),
)


def repo_files(level: int, ci: str, package: str, environments: list[str]) -> list[str]:
    """Every file (POSIX path relative to the repo root) of a repo with these choices, sorted;
    the files in GENERATED_FILES included. The level matters only through its catalog features."""
    features = features_at(level)
    files = set(GENERATED_FILES)
    for rule in RULES:
        if (rule.feature is not None and rule.feature not in features) or rule.ci not in (None, ci):
            continue
        envs = environments if "{environment}" in rule.path else [""]
        files.update(rule.path.format(package=package, environment=env) for env in envs)
    return sorted(files)


def finalize(project_dir: Path, *, level: int, ci: str, package: str, environments: list[str]) -> None:
    """Turn the rendered template tree into the repo `repo_files` describes (the hook's job)."""
    stub = project_dir / STACK_STUB
    template = Template(stub.read_text(encoding="utf-8"))
    for env in environments:
        stack_file = stub.with_name(f"Pulumi.{env}.yaml")
        stack_file.write_text(template.substitute(environment=env), encoding="utf-8")
    stub.unlink()
    wanted = set(repo_files(level, ci, package, environments)) - set(GENERATED_FILES)
    present = set()
    for path in sorted(project_dir.rglob("*"), reverse=True):  # children before their folders
        rel = path.relative_to(project_dir).as_posix()
        if path.is_dir():
            if not any(path.iterdir()):
                path.rmdir()
        elif rel in wanted:
            present.add(rel)
        else:
            path.unlink()
    missing = sorted(wanted - present)
    if missing:
        raise RuntimeError(f"the template tree lacks files the layout lists: {', '.join(missing)}")
