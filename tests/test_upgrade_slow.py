"""Slow tier: a generated repo climbs from level 0 to 4 one step at a time, with the team's
edits made along the way; they survive, a conflicting edit gets markers and is listed, and the
repo's own tests and linter pass after every step."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlops_bp.blueprints import load_blueprint
from mlops_bp.cli.app import app
from mlops_bp.templates.render import init_repo

from .conftest import make_blueprint

pytestmark = pytest.mark.slow

TEAM_README = "## Team\nOwned by the fraud squad; on call in #fraud-oncall.\n\n"
TEAM_TRAIN = '\n\ndef team_seed() -> int:\n    """The seed our experiments use."""\n    return 1234\n'
TEAM_CI_STEP = "      - name: Team check\n        run: echo team-check\n"
CONFLICT = re.compile(r"^<<<<<<< yours\n(?P<yours>.*?)^=======\n(?P<theirs>.*?)^>>>>>>> [^\n]*\n", re.M | re.S)


def _own_checks(repo: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(repo / "src")}
    env.pop("ENDPOINT_URL", None)
    for args in (
        ["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests", "infra/tests"],
        ["-m", "ruff", "check", "--no-cache", "."],
    ):
        result = subprocess.run([sys.executable, *args], cwd=repo, env=env, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, f"{args}: {result.stdout[-3000:]}{result.stderr[-2000:]}"


def _resolve_taking_template(path: Path) -> None:
    """What the team does after reading the conflict: here, keep the template's side."""
    path.write_text(CONFLICT.sub(lambda m: m.group("theirs"), path.read_text(encoding="utf-8")), encoding="utf-8")


def test_upgrade_zero_to_four_step_by_step(tmp_path):
    repo = init_repo(make_blueprint(0), "github", tmp_path).path
    readme, train = repo / "README.md", repo / "src/fraud_detect/train.py"
    ci = repo / ".github/workflows/ci.yml"
    readme.write_text(
        readme.read_text(encoding="utf-8").replace("## Layout", TEAM_README + "## Layout", 1), encoding="utf-8"
    )
    train.write_text(train.read_text(encoding="utf-8") + TEAM_TRAIN, encoding="utf-8")
    _own_checks(repo)
    for level in range(1, 5):
        if level == 3:
            # A conflicting edit: the line the templates rewrite at every level.
            text = readme.read_text(encoding="utf-8")
            readme.write_text(
                re.sub(r"maturity level 2\*\*", "maturity level two** (team wording)", text), encoding="utf-8"
            )
        result = CliRunner().invoke(app, ["upgrade", "--to", str(level), "--yes", "--repo", str(repo)])
        assert result.exit_code == (3 if level == 3 else 0), result.output  # 3: conflicts to resolve
        assert load_blueprint(repo / "mlops-bp.yaml").level == level
        if level == 3:
            assert "README.md: 1 conflict(s)" in result.output
            text = readme.read_text(encoding="utf-8")
            assert "<<<<<<< yours\n" in text and "(team wording)" in text
            _resolve_taking_template(readme)
        else:
            assert "conflict" not in result.output
        if level == 1:
            text = ci.read_text(encoding="utf-8")
            ci.write_text(
                text.replace("      - name: Lint\n", TEAM_CI_STEP + "      - name: Lint\n", 1), encoding="utf-8"
            )
        assert TEAM_README in readme.read_text(encoding="utf-8")
        assert f"maturity level {level}**" in readme.read_text(encoding="utf-8")
        assert train.read_text(encoding="utf-8").endswith(TEAM_TRAIN)
        assert TEAM_CI_STEP in ci.read_text(encoding="utf-8")
        leftover = [
            p for p in repo.rglob("*") if p.is_file() and "<<<<<<<" in p.read_text(encoding="utf-8", errors="replace")
        ]
        assert leftover == []
        _own_checks(repo)
    for env in ("dev", "staging", "prod"):
        assert (repo / f"infra/Pulumi.{env}.yaml").is_file()
    assert (repo / ".github/workflows/deploy.yml").is_file()
