"""`mlops-bp init` and init_repo: flags, prompts, summary, and the safety of generation."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlops_bp.blueprints import UserError, load_blueprint
from mlops_bp.cli import init as init_command
from mlops_bp.cli.app import app
from mlops_bp.templates import render
from mlops_bp.templates.render import init_repo

from .conftest import make_blueprint

runner = CliRunner()


def _init(*args: str):
    return runner.invoke(app, ["init", *args])


def _tree(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")} if root.exists() else set()


def test_init_creates_the_repo_and_prints_next_steps(tmp_path) -> None:
    result = _init("--level", "2", "--name", "churn-model", "--github", "acme/churn", "--no-input", "-o", str(tmp_path))
    assert result.exit_code == 0, result.output
    repo = tmp_path / "churn-model"
    assert (repo / ".github/workflows/train.yml").is_file()
    assert load_blueprint(repo / "mlops-bp.yaml").github == "acme/churn"
    written = sum(1 for p in repo.rglob("*") if p.is_file())
    assert "Created" in result.output and f"{written} files" in result.output
    assert "python -m venv .venv" in result.output and "git init" in result.output
    assert "no `github`" not in result.output
    assert _tree(tmp_path) == {"churn-model", *(f"churn-model/{p}" for p in _tree(repo))}


def test_init_without_a_ci_repository_says_what_is_missing(tmp_path) -> None:
    result = _init("--level", "1", "--name", "churn-model", "--no-input", "-o", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "note: no `github` (or `gitlab`) repository set" in result.stderr
    assert "add `github: OWNER/REPO`" in result.stderr


def test_init_with_gitlab_and_kubernetes(tmp_path) -> None:
    result = _init(
        "-l", "3", "-n", "eta-model", "-p", "kubernetes", "--ci", "gitlab", "--no-input", "-o", str(tmp_path)
    )
    assert result.exit_code == 0, result.output
    repo = tmp_path / "eta-model"
    assert (repo / ".gitlab-ci.yml").is_file() and not (repo / ".github").exists()
    assert (repo / "infra/Pulumi.prod.yaml").is_file()


def test_init_reads_a_config_file_and_flags_win(tmp_path) -> None:
    config = tmp_path / "bp.yaml"
    config.write_text("name: from-config\nlevel: 4\nregion: eu-west-1\n")
    out = tmp_path / "out"
    result = _init("--config", str(config), "--region", "eu-central-1", "--no-input", "-o", str(out))
    assert result.exit_code == 0, result.output
    blueprint = load_blueprint(out / "from-config" / "mlops-bp.yaml")
    assert (int(blueprint.level), blueprint.region) == (4, "eu-central-1")


def test_prompts_when_interactive(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(init_command, "_interactive", lambda no_input: not no_input)
    answers = "3\nKubernetes\nteam-model\neu-west-1\ngithub\nacme/team-model\n"
    result = runner.invoke(app, ["init", "-o", str(tmp_path)], input=answers)
    assert result.exit_code == 0, result.output
    blueprint = load_blueprint(tmp_path / "team-model" / "mlops-bp.yaml")
    assert (int(blueprint.level), blueprint.platform.value, blueprint.region, blueprint.github) == (
        3,
        "kubernetes",
        "eu-west-1",
        "acme/team-model",
    )


def test_no_input_never_prompts_and_defaults_to_level_1(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(init_command, "_interactive", lambda no_input: not no_input)
    result = runner.invoke(app, ["init", "--no-input", "-o", str(tmp_path)], input="")
    assert result.exit_code == 0, result.output
    assert int(load_blueprint(tmp_path / "mlops-demo" / "mlops-bp.yaml").level) == 1


def test_existing_directory_is_refused_without_force(tmp_path) -> None:
    repo = tmp_path / "fraud-detect"
    repo.mkdir()
    (repo / "notes.txt").write_text("mine")
    result = _init("-l", "1", "-n", "fraud-detect", "--no-input", "-o", str(tmp_path))
    assert result.exit_code == 2
    assert "exists and is not empty; use --force" in result.output
    assert _tree(tmp_path) == {"fraud-detect", "fraud-detect/notes.txt"}


def test_force_replaces_template_files_and_deletes_nothing(tmp_path) -> None:
    blueprint = make_blueprint(1)
    first = init_repo(blueprint, "github", tmp_path)
    repo = first.path
    (repo / "README.md").write_text("changed")
    (repo / "notes.txt").write_text("mine")
    (repo / "src/fraud_detect/extra.py").write_text("X = 1\n")
    again = init_repo(blueprint, "github", tmp_path, force=True)
    assert (repo / "notes.txt").read_text() == "mine"
    assert (repo / "src/fraud_detect/extra.py").is_file()
    assert (repo / "README.md").read_text().startswith("# fraud-detect")
    assert Path("README.md") in again.overwritten and len(again.overwritten) == len(again.files)
    assert [p.name for p in tmp_path.iterdir()] == ["fraud-detect"]


def test_force_refuses_a_directory_where_the_template_writes_a_file(tmp_path) -> None:
    repo = tmp_path / "fraud-detect"
    (repo / "README.md").mkdir(parents=True)
    with pytest.raises(UserError, match="is a directory"):
        init_repo(make_blueprint(0), "github", tmp_path, force=True)
    assert _tree(tmp_path) == {"fraud-detect", "fraud-detect/README.md"}


def test_empty_existing_directory_is_fine(tmp_path) -> None:
    (tmp_path / "fraud-detect").mkdir()
    result = init_repo(make_blueprint(0), "github", tmp_path)
    assert (result.path / "Dockerfile").is_file()


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("../escape", "name: must be 3-40 characters"),
        ("/abs/path", "name: must be 3-40 characters"),
        ("9lives", "must start with a letter"),
        ("json", "would hide Python's own module"),
        ("flask", "is a package the generated repo depends on"),
        ("class", "is a Python keyword"),
    ],
)
def test_bad_names_write_nothing(tmp_path, name, message) -> None:
    out = tmp_path / "out"
    result = _init("-l", "1", "-n", name, "--no-input", "-o", str(out))
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    assert not out.exists() and _tree(tmp_path) == set()


def test_output_dir_that_is_a_file_is_refused(tmp_path) -> None:
    (tmp_path / "file").write_text("")
    result = _init("-l", "1", "--no-input", "-o", str(tmp_path / "file"))
    assert result.exit_code == 2 and "is a file" in result.output


def _interrupting_render(blueprint, ci, destination, builder=None):
    destination.mkdir(parents=True)
    (destination / "half-written.txt").write_text("partial")
    raise KeyboardInterrupt


def test_interrupted_render_leaves_nothing(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(render, "render_tree", _interrupting_render)
    result = _init("-l", "2", "--no-input", "-o", str(tmp_path))
    assert result.exit_code == 130
    assert "interrupted; nothing was changed" in result.output
    assert _tree(tmp_path) == set()


def test_failing_render_leaves_nothing_in_a_new_output_dir(tmp_path, monkeypatch) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("hook failed")

    monkeypatch.setattr("cookiecutter.generate.generate_files", broken)
    with pytest.raises(RuntimeError):
        init_repo(make_blueprint(1), "github", tmp_path / "new" / "deeper")
    assert _tree(tmp_path) == set()


def test_help_and_light_startup() -> None:
    result = runner.invoke(app, ["init", "--help"])
    assert result.exit_code == 0
    for option in (
        "--level",
        "--name",
        "--platform",
        "--region",
        "--github",
        "--ci",
        "--output-dir",
        "--config",
        "--no-input",
        "--force",
    ):
        assert option in result.output
    code = (
        "import sys; from mlops_bp.cli.app import app;"
        " print(sorted(m for m in ('cookiecutter', 'pulumi', 'jinja2') if m in sys.modules))"
    )
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"
    )


def test_gitlab_repo_trusts_the_gitlab_project(tmp_path) -> None:
    result = _init(
        "-l",
        "3",
        "-n",
        "eta-model",
        "--ci",
        "gitlab",
        "--gitlab",
        "acme/ml/eta-model",
        "--no-input",
        "-o",
        str(tmp_path),
    )
    assert result.exit_code == 0, result.output
    blueprint = load_blueprint(tmp_path / "eta-model" / "mlops-bp.yaml")
    assert blueprint.gitlab == "acme/ml/eta-model" and blueprint.github is None
    mismatch = _init(
        "-l", "1", "-n", "eta-model", "--ci", "gitlab", "--github", "acme/eta", "--no-input", "-o", str(tmp_path / "x")
    )
    assert mismatch.exit_code == 2 and "GitLab repo's pipelines cannot use a GitHub trust" in mismatch.stderr
    assert not (tmp_path / "x").exists()
