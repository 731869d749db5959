"""Every generated variant names only what exists: stack outputs, config keys, make targets,
paths; and documents every secret and variable its CI reads (tests/xref.py)."""

from __future__ import annotations

import shutil

import pytest

from .conftest import make_blueprint
from .graphs import graph, overrides
from .xref import problems

VARIANTS = [
    (level, platform, ci)
    for level in range(5)
    for platform in ("sagemaker", "kubernetes")
    for ci in ("github", "gitlab")
]


# A project `mlops-bp bootstrap` set up: its state bucket gives pull requests a preview role.
BOOTSTRAPPED = overrides(state_bucket="fraud-detect-pulumi-123456789012-us-east-1")


def _outputs(level: int, platform: str) -> set[str]:
    """Outputs any environment's stack has, on day one or once deployed, bootstrapped or not."""
    envs = [e.name for e in make_blueprint(level, platform).environments]
    return {
        key
        for env in envs
        for deployed in (False, True)
        for state in ({}, BOOTSTRAPPED)
        for key in graph(level, env, platform, deployed, **state).outputs
    }


# Open defects this check finds, each with its issue; the test fails once one is fixed, so the
# entry goes with the fix.
KNOWN_GAPS: dict[tuple[str, str], tuple[int, str, str]] = {}  # (platform, ci): (from level, problem, issue)


@pytest.mark.parametrize(("level", "platform", "ci"), VARIANTS, ids=["-".join(map(str, v)) for v in VARIANTS])
def test_every_name_the_repo_uses_exists(rendered, level, platform, ci):
    found = problems(rendered(level, platform, ci), _outputs(level, platform))
    gap = KNOWN_GAPS.get((platform, ci))
    known = {gap[1]} if gap and level >= gap[0] else set()
    assert set(found) == known


def _probe(rendered, tmp_path, variant: tuple, edits: dict[str, tuple[str, str]]) -> list[str]:
    """The problems of a copy of a rendered variant with `edits` ({path: (old, new)}) made."""
    repo = tmp_path / "probe"
    shutil.copytree(rendered(*variant), repo)
    for path, (old, new) in edits.items():
        text = (repo / path).read_text()
        assert old in text, f"{path} lacks {old!r}"
        (repo / path).write_text(text.replace(old, new))
    return problems(repo, _outputs(*variant[:2]))


def test_the_check_catches_a_renamed_output(rendered, tmp_path):
    edits = {"README.md": ("pulumi stack output ci_role_arn", "pulumi stack output ci_role")}
    assert any("stack output 'ci_role'" in p for p in _probe(rendered, tmp_path, (3, "sagemaker", "github"), edits))


def test_the_check_catches_an_undocumented_secret(rendered, tmp_path):
    edits = {".github/workflows/deploy.yml": ("secrets.PULUMI_CONFIG_PASSPHRASE", "secrets.DEPLOY_KEY")}
    found = _probe(rendered, tmp_path, (3, "sagemaker", "github"), edits)
    assert any("secrets.DEPLOY_KEY is not documented" in p for p in found)


def test_the_check_catches_a_missing_make_target(rendered, tmp_path):
    found = _probe(rendered, tmp_path, (2, "sagemaker", "github"), {"Makefile": ("\ndvc-remote:", "\nremote:")})
    assert any("`make dvc-remote` is not a Makefile target" in p for p in found)


def test_the_check_catches_an_unknown_config_key_and_a_missing_path(rendered, tmp_path):
    edits = {"README.md": ("mlops-bp:gitlabPipelineToken", "mlops-bp:gitlabToken")}
    found = _probe(rendered, tmp_path, (3, "sagemaker", "gitlab"), edits)
    assert any("mlops-bp:gitlabToken is not read by the program" in p for p in found)
    found = _probe(
        rendered,
        tmp_path / "2",
        (3, "sagemaker", "gitlab"),
        {"README.md": ("`infra/deploy_config.py`", "`infra/deploy.py`")},
    )
    assert any("`infra/deploy.py` does not exist" in p for p in found)


def test_the_check_catches_an_unknown_command_or_flag(rendered, tmp_path):
    edits = {".gitlab-ci.yml": ("mlops-bp promote --to", "mlops-bp promote --into")}
    found = _probe(rendered, tmp_path, (3, "sagemaker", "gitlab"), edits)
    assert "`mlops-bp promote` takes no --into" in "\n".join(found)
    edits = {".gitlab-ci.yml": ("mlops-bp promote --to", "mlops-bp copy --to")}
    found = _probe(rendered, tmp_path / "2", (3, "sagemaker", "gitlab"), edits)
    assert any("`mlops-bp copy` is not a command" in p for p in found)
