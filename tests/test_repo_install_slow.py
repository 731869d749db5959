"""Generated repos install as their READMEs say, in a fresh venv, with the built mlops-bp wheel
as the only source of mlops-bp (no index serves it), and their own and infra tests pass there.

Dependencies come from the package index (pip's cache keeps repeated runs fast); one venv serves
every variant, since the requirement sets differ only in what is already installed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlops_bp.templates.render import render_tree

from .conftest import make_blueprint
from .test_packaging import wheel  # noqa: F401 - the module-scoped fixture that builds it

pytestmark = pytest.mark.slow

# Every level, both platforms and both CI systems at least once.
VARIANTS = [
    (0, "sagemaker", "github"),
    (1, "kubernetes", "gitlab"),
    (2, "sagemaker", "github"),
    (3, "kubernetes", "github"),
    (4, "sagemaker", "gitlab"),
]


def _run(args: list, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{' '.join(map(str, args))}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def fresh(wheel, tmp_path_factory):  # noqa: F811 - the imported fixture
    venv = tmp_path_factory.mktemp("fresh") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    env.update(
        PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        VIRTUAL_ENV=str(venv),
        PIP_FIND_LINKS=str(wheel.parent),  # the only place mlops-bp can come from
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )
    return venv, env


@pytest.mark.parametrize(("level", "platform", "ci"), VARIANTS, ids=["-".join(map(str, v)) for v in VARIANTS])
def test_the_repo_installs_as_its_readme_says_and_its_tests_pass(fresh, tmp_path, level, platform, ci):
    venv, env = fresh
    repo = tmp_path / "repo"
    render_tree(make_blueprint(level, platform, ci), ci, repo)
    readme = (repo / "README.md").read_text()
    assert "make install" in readme and "python -m pip install -r requirements.txt" in readme
    python = venv / "bin" / "python"
    _run([python, "-m", "pip", "install", "--quiet", "-r", "requirements.txt"], repo / "infra", env)  # README
    _run([python, "-m", "pip", "install", "--quiet", "-e", ".[test]"], repo, env)  # `make install`
    where = _run([python, "-c", "import mlops_bp.stacks; print(mlops_bp.stacks.__file__)"], repo, env).stdout.strip()
    assert Path(where).resolve().is_relative_to(venv.resolve())  # the wheel's copy, not the checkout
    _run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider"], repo, env)  # `make test`
    _run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "infra/tests"], repo, env)  # `make infra-test`
