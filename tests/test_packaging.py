"""Packaging: the editable install maps the top-level folders into `mlops_bp`, and a built
wheel installs and runs on its own, from outside the repo, with nothing but `mlops_bp` in it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest
from packaging.requirements import Requirement

import mlops_bp.cli.app

REPO = Path(__file__).resolve().parents[1]
# What a wheel build must not pick up from a working tree.
BUILD_IGNORE = shutil.ignore_patterns(
    ".git",
    ".venv",
    "venv",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    "*.pyc",
    ".pytest_cache",
    ".ruff_cache",
    ".benchmarks",
    "node_modules",
)


def test_editable_install_resolves_to_the_checkout():
    assert Path(mlops_bp.cli.app.__file__).resolve() == REPO / "cli" / "app.py"


def _clean_env(venv: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(venv)
    return env


def _run(args: list[str | Path], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{args} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def _dependency_dirs() -> list[str]:
    """site-packages of the interpreter running the tests: the wheel's dependencies live there."""
    dirs = []
    for entry in sys.path:
        path = Path(entry)
        if path.name in {"site-packages", "dist-packages"} and path.is_dir():
            dirs.append(str(path))
    return dirs


def _require_build_backend() -> None:
    """The wheel is built without isolation, so pyproject's build requirements must be installed here."""
    requires = tomllib.loads((REPO / "pyproject.toml").read_text())["build-system"]["requires"]
    missing = []
    for req in map(Requirement, requires):
        try:
            installed = version(req.name)
        except PackageNotFoundError:
            installed = None
        if installed is None or not req.specifier.contains(installed, prereleases=True):
            missing.append(f"{req} (installed: {installed})")
    if missing:
        pytest.fail(f"build requirements missing: {', '.join(missing)}; run: pip install -e '.[test]'")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """Build the wheel from a copy of the tree, so stale build/ output can't leak into it and the
    checkout is left untouched. No build isolation: the backend comes from the test extras."""
    _require_build_backend()
    work = tmp_path_factory.mktemp("wheel")
    src = work / "src"
    shutil.copytree(REPO, src, ignore=BUILD_IGNORE)
    dist = work / "dist"
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--wheel-dir",
            dist,
            src,
        ],
        cwd=work,
    )
    (built,) = dist.glob("mlops_bp-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh venv holding only the wheel. Its dependencies are made visible by a .pth listing
    the test interpreter's site-packages: plain path lines, so the .pth files in there (the
    editable install's finder among them) are not run and the checkout stays out of reach.
    (`venv --system-site-packages` would not do: run from CI's .venv it points at the base
    interpreter, not at the .venv where the dependencies are.)"""
    env_dir = tmp_path_factory.mktemp("venv") / "env"
    _run([sys.executable, "-m", "venv", env_dir], cwd=env_dir.parent)
    python = env_dir / "bin" / "python"
    purelib = _run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=env_dir).stdout
    Path(purelib.strip(), "_mlops_bp_test_deps.pth").write_text("\n".join(_dependency_dirs()) + "\n")
    _run(
        [python, "-m", "pip", "install", "--no-deps", "--no-index", wheel],
        cwd=env_dir,
        env=_clean_env(env_dir),
    )
    return env_dir


def _wheel_names(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as zf:
        return zf.namelist()


@pytest.mark.slow
def test_wheel_holds_only_mlops_bp(wheel):
    dist_info = wheel.name.split("-")[0] + "-" + wheel.name.split("-")[1] + ".dist-info/"
    tops = {name.split("/")[0] + "/" for name in _wheel_names(wheel)}
    assert tops == {"mlops_bp/", dist_info}


@pytest.mark.slow
def test_wheel_ships_data_files(wheel):
    names = set(_wheel_names(wheel))
    assert "mlops_bp/stacks/aws/scripts/autostop.sh" in names
    templates = REPO / "templates"
    expected = {
        "mlops_bp/templates/" + p.relative_to(templates).as_posix()
        for p in templates.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }
    shipped = {n for n in names if n.startswith("mlops_bp/templates/")}
    assert expected - shipped == set(), "template files missing from the wheel"
    assert any(n.endswith("/cookiecutter.json") for n in shipped), "no cookiecutter template in the wheel"


@pytest.mark.slow
def test_installed_wheel_imports_from_the_venv_only(venv, tmp_path):
    probe = (
        "import json, importlib.metadata as md, mlops_bp, mlops_bp.cli.app, mlops_bp.stacks.plan, "
        "mlops_bp.blueprints, mlops_bp.templates\n"
        "files = [str(f) for f in md.files('mlops-bp')]\n"
        "print(json.dumps({'path': list(mlops_bp.__path__), 'files': [m.__file__ for m in "
        "(mlops_bp.cli.app, mlops_bp.stacks.plan, mlops_bp.blueprints, mlops_bp.templates)], "
        "'record': files, 'dist': str(md.distribution('mlops-bp')._path)}))"
    )
    out = _run([venv / "bin" / "python", "-c", probe], cwd=tmp_path, env=_clean_env(venv)).stdout
    info = json.loads(out)
    venv_root = venv.resolve()
    for path in (*info["path"], *info["files"], info["dist"]):
        assert venv_root in Path(path).resolve().parents, f"{path} is not inside the test venv"
    tops = {f.split("/")[0] for f in info["record"] if not f.startswith("..")}
    assert tops == {"mlops_bp", Path(info["dist"]).name}, f"unexpected top-level names installed: {tops}"
    for leaked in ("cli", "stacks", "blueprints", "templates"):
        assert not any(p.name == leaked for p in (venv / "lib").glob(f"python*/site-packages/{leaked}"))


@pytest.mark.slow
def test_installed_console_script_runs_outside_the_repo(venv, tmp_path):
    script = venv / "bin" / "mlops-bp"
    assert script.read_text().startswith(f"#!{venv}"), "console script does not use the venv's python"
    env = _clean_env(venv)
    help_out = _run([script, "--help"], cwd=tmp_path, env=env).stdout
    assert "Usage: mlops-bp" in help_out
    assert "plan" in help_out
    plan = _run([script, "plan", "--level", "2"], cwd=tmp_path, env=env)
    assert "level 2 on sagemaker" in plan.stdout
    assert "aws:s3:Bucket" in plan.stdout  # type tokens as `pulumi preview` shows them
    assert "Traceback" not in plan.stderr
    assert list(tmp_path.iterdir()) == [], "plan wrote files into the working directory"
