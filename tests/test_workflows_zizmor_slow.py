"""Slow tier: zizmor, the GitHub Actions security linter, audits every generated GitHub repo's
workflows and Dependabot config (levels 0-4 x platforms) and finds nothing above low severity."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from mlops_bp.templates.render import render_tree

from .conftest import make_blueprint

pytestmark = pytest.mark.slow
CASES = [(level, platform) for level in range(5) for platform in ("sagemaker", "kubernetes")]
ACCEPTED_SEVERITIES = {"Unknown", "Informational", "Low"}


def _zizmor(target: Path) -> list[dict]:
    """zizmor's findings on `target` (a repo or a workflow), offline and without any config file;
    ignore comments in the files themselves are honoured."""
    zizmor = shutil.which("zizmor")
    assert zizmor, "zizmor missing: pip install -e '.[test]'"
    result = subprocess.run(
        [zizmor, "--offline", "--no-config", "--no-exit-codes", "--format", "json", str(target)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return [finding for finding in json.loads(result.stdout) if not finding.get("ignored")]


def _summary(findings: list[dict]) -> list[str]:
    return [
        f"{f['ident']} ({f['determinations']['severity']}): "
        + ", ".join(
            f"{Path(loc['symbolic']['key']['Local']['verbatim_path']).name}:"
            f"{loc['concrete']['location']['start_point']['row'] + 1}"
            for loc in f["locations"]
            if loc["symbolic"]["kind"] == "Primary"
        )
        for f in findings
    ]


@pytest.mark.parametrize(("level", "platform"), CASES, ids=[f"{level}-{platform}" for level, platform in CASES])
def test_zizmor_finds_nothing_above_low(tmp_path, level, platform) -> None:
    repo = tmp_path / "repo"
    render_tree(make_blueprint(level, platform), "github", repo)
    assert (repo / ".github/dependabot.yml").is_file()
    assert bool(list((repo / ".github/workflows").glob("*.yml"))) == (level >= 1)
    findings = _zizmor(repo)
    serious = [f for f in findings if f["determinations"]["severity"] not in ACCEPTED_SEVERITIES]
    assert not serious, "\n".join(_summary(serious))


def test_zizmor_catches_an_unpinned_action_and_an_injected_input(tmp_path) -> None:
    workflow = tmp_path / ".github/workflows/bad.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text(
        "name: bad\n"
        "on:\n"
        "  workflow_dispatch:\n"
        "    inputs:\n"
        "      arn: {type: string}\n"
        "permissions:\n"
        "  contents: read\n"
        "jobs:\n"
        "  bad:\n"
        "    runs-on: ubuntu-24.04\n"
        "    steps:\n"
        "      - uses: actions/checkout@v4.2.2\n"
        "        with:\n"
        "          persist-credentials: false\n"
        "      - run: echo ${{ inputs.arn }}\n"
    )
    idents = {f["ident"] for f in _zizmor(tmp_path)}
    assert {"unpinned-uses", "template-injection"} <= idents
