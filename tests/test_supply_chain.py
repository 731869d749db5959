"""Supply chain of every generated repo (issue 12): actions pinned by full commit SHA with the
version in a comment, base and CI job images pinned by digest, nothing piped from the network
into a shell, and Dependabot (GitHub) keeping the pins fresh."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

VARIANTS = [
    (level, platform, ci)
    for level in range(5)
    for platform in ("sagemaker", "kubernetes")
    for ci in ("github", "gitlab")
]
IDS = ["-".join(map(str, v)) for v in VARIANTS]
USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>.*)$", re.MULTILINE)
PINNED_USES = re.compile(r"(?P<action>[\w.-]+/[\w.-]+)@(?P<sha>[0-9a-f]{40}) # (?P<version>v\d+(?:\.\d+){0,2})")
DIGEST = r"@sha256:[0-9a-f]{64}"
PIPED_INTO_SHELL = re.compile(r"\b(?:curl|wget)\b[^\n]*\|\s*(?:sudo\s+)?(?:ba|z|da)?sh\b")
# GitLab service images without a verified digest yet, each with the reason; pin them and drop the entry.
UNPINNED_SERVICES = {"docker:28.2.2-dind": "issue 12: no verified digest of the dind image at hand"}


class _GitlabLoader(yaml.SafeLoader):
    """GitLab CI's custom tag !reference."""


_GitlabLoader.add_constructor("!reference", lambda loader, node: loader.construct_sequence(node))


def _files(repo: Path) -> list[Path]:
    return sorted(p for p in repo.rglob("*") if p.is_file())


@pytest.mark.parametrize(("level", "platform", "ci"), VARIANTS, ids=IDS)
def test_actions_are_pinned_by_commit_sha_with_the_version_in_a_comment(rendered, level, platform, ci) -> None:
    workflows = sorted((rendered(level, platform, ci) / ".github/workflows").glob("*.yml"))
    assert bool(workflows) == (ci == "github" and level >= 1)
    for workflow in workflows:
        for match in USES.finditer(workflow.read_text()):
            assert PINNED_USES.fullmatch(match["ref"]), f"{workflow.name}: uses: {match['ref']}"


def test_each_action_has_one_pin_across_all_repos(rendered) -> None:
    pins: dict[str, set[tuple[str, str]]] = {}
    for level, platform, ci in VARIANTS:
        for workflow in (rendered(level, platform, ci) / ".github/workflows").glob("*.yml"):
            for match in USES.finditer(workflow.read_text()):
                pinned = PINNED_USES.fullmatch(match["ref"])
                pins.setdefault(pinned["action"], set()).add((pinned["sha"], pinned["version"]))
    assert set(pins) == {
        "actions/checkout",
        "actions/setup-python",
        "aws-actions/configure-aws-credentials",
        "aws-actions/amazon-ecr-login",
        "pulumi/actions",
    }
    assert all(len(versions) == 1 for versions in pins.values()), pins


@pytest.mark.parametrize(("level", "platform", "ci"), VARIANTS, ids=IDS)
def test_images_are_pinned_by_digest(rendered, level, platform, ci) -> None:
    repo = rendered(level, platform, ci)
    dockerfiles = sorted(repo.glob("*Dockerfile"))
    assert dockerfiles
    for dockerfile in dockerfiles:
        for image in re.findall(r"^FROM\s+(\S+)", dockerfile.read_text(), re.MULTILINE):
            assert re.search(DIGEST + "$", image), f"{dockerfile.name}: FROM {image}"
    if ci != "gitlab" or level == 0:
        return
    pipeline = yaml.load((repo / ".gitlab-ci.yml").read_text(), Loader=_GitlabLoader)  # noqa: S506 - a SafeLoader
    images = [job["image"] for job in pipeline.values() if isinstance(job, dict) and "image" in job]
    assert images
    for image in images:
        name = image["name"] if isinstance(image, dict) else image
        assert re.search(DIGEST + "$", name), f".gitlab-ci.yml: image {name}"
    for job in pipeline.values():
        for service in job.get("services", []) if isinstance(job, dict) else []:
            name = service["name"] if isinstance(service, dict) else service
            assert re.search(DIGEST + "$", name) or name in UNPINNED_SERVICES, f".gitlab-ci.yml: service {name}"


@pytest.mark.parametrize(("level", "platform", "ci"), VARIANTS, ids=IDS)
def test_nothing_is_piped_from_the_network_into_a_shell(rendered, level, platform, ci) -> None:
    repo = rendered(level, platform, ci)
    for path in _files(repo):
        found = PIPED_INTO_SHELL.search(path.read_text(encoding="utf-8", errors="replace"))
        assert found is None, f"{path.relative_to(repo)}: {found[0]}"


def test_the_pipe_check_catches_an_install_script() -> None:
    assert PIPED_INTO_SHELL.search("    - curl -fsSL https://get.pulumi.com | sh -s -- --version 3.150.0")
    assert PIPED_INTO_SHELL.search("RUN wget -qO- https://example.com/install | bash")
    assert not PIPED_INTO_SHELL.search("aws ecr get-login-password | docker login --password-stdin")


@pytest.mark.parametrize("level", range(5))
def test_dependabot_keeps_the_github_pins_fresh(rendered, level) -> None:
    config = yaml.safe_load((rendered(level, "sagemaker", "github") / ".github/dependabot.yml").read_text())
    assert config["version"] == 2
    updates = {u["package-ecosystem"]: u for u in config["updates"]}
    assert set(updates) == {"docker", "pip"} | ({"github-actions"} if level >= 1 else set())
    for update in updates.values():
        assert update["directory"] == "/" and update["schedule"]["interval"] == "weekly"
        assert update["cooldown"]["default-days"] > 0
    assert not (rendered(level, "sagemaker", "gitlab") / ".github").exists()


def test_gitlab_pulumi_jobs_use_the_pinned_pulumi_image(rendered) -> None:
    pipeline = yaml.load((rendered(4, "kubernetes", "gitlab") / ".gitlab-ci.yml").read_text(), Loader=_GitlabLoader)  # noqa: S506
    assert pipeline[".pulumi"]["image"].startswith("pulumi/pulumi-python:")
    uses_pulumi = [
        name
        for name, job in pipeline.items()
        if isinstance(job, dict) and any("pulumi " in line for line in job.get("script", []) if isinstance(line, str))
    ]
    assert uses_pulumi and all(".pulumi" in pipeline[name]["extends"] for name in uses_pulumi), uses_pulumi
