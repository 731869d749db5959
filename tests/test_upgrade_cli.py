"""`mlops-bp upgrade` and `mlops-bp update` on generated repos (fast tier: one step each)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlops_bp.blueprints import load_blueprint
from mlops_bp.cli import lifecycle
from mlops_bp.cli.app import app
from mlops_bp.templates import transaction, upgrade
from mlops_bp.templates.render import init_repo
from mlops_bp.templates.snapshot import BASE_SNAPSHOT

from .conftest import make_blueprint
from .test_diff_levels import _rename_data_bucket_from_level_2
from .test_upgrade_merge import tree_state

PACKAGE = "fraud_detect"


def generate(tmp_path: Path, level: int, ci: str = "github", platform: str = "sagemaker") -> Path:
    return init_repo(make_blueprint(level, platform, ci), ci, tmp_path / "out").path


def invoke(*args: str, input: str | None = None):
    return CliRunner().invoke(app, list(args), input=input)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_help():
    for command in ("upgrade", "update"):
        result = invoke(command, "--help")
        assert result.exit_code == 0
        assert "--yes" in result.output and "--repo" in result.output


def test_upgrade_keeps_team_edits_and_adds_the_level(tmp_path):
    repo = generate(tmp_path, 0)
    edit(repo / "README.md", "## Layout", "## Our team\nOn call: the fraud squad.\n\n## Layout")
    train = repo / f"src/{PACKAGE}/train.py"
    train.write_text(train.read_text(encoding="utf-8") + "\n# Tuned by the fraud team.\n", encoding="utf-8")
    (repo / "notes.md").write_text("our own file\n", encoding="utf-8")
    result = invoke("upgrade", "--to", "1", "--yes", "--repo", str(repo))
    assert result.exit_code == 0, result.output
    assert "level 0 -> 1" in result.output
    assert "+ aws:ecr:Repository" in result.output
    assert ".github/workflows/ci.yml" in result.output
    assert load_blueprint(repo / "mlops-bp.yaml").level == 1
    assert (repo / ".github/workflows/ci.yml").is_file()
    readme = (repo / "README.md").read_text(encoding="utf-8")
    assert "On call: the fraud squad." in readme and "maturity level 1" in readme
    assert "<<<<<<<" not in readme
    assert train.read_text(encoding="utf-8").endswith("# Tuned by the fraud team.\n")
    assert (repo / "notes.md").read_text(encoding="utf-8") == "our own file\n"
    snapshot = json.loads((repo / BASE_SNAPSHOT).read_text(encoding="utf-8"))
    assert ".github/workflows/ci.yml" in snapshot["files"]


def test_conflicting_edit_gets_markers_and_is_listed(tmp_path):
    repo = generate(tmp_path, 0)
    edit(repo / "README.md", "maturity level 0", "maturity level zero (our wording)")
    result = invoke("upgrade", "--to", "1", "--yes", "--repo", str(repo))
    assert result.exit_code == 3, result.output  # written, with conflicts left to resolve
    assert "conflicts" in result.output and "exit code 3" in result.output
    assert "README.md: 1 conflict(s)" in result.output
    readme = (repo / "README.md").read_text(encoding="utf-8")
    assert "<<<<<<< yours\n" in readme and ">>>>>>> mlops-bp " in readme
    assert "maturity level zero (our wording)" in readme and "maturity level 1" in readme


@pytest.mark.parametrize(
    ("ci", "platform", "ci_file"),
    [("gitlab", "sagemaker", ".gitlab-ci.yml"), ("github", "kubernetes", ".github/workflows/ci.yml")],
)
def test_upgrade_keeps_the_recorded_ci_and_platform(tmp_path, ci, platform, ci_file):
    repo = generate(tmp_path, 0, ci, platform)
    result = invoke("upgrade", "--to", "1", "--yes", "--repo", str(repo))
    assert result.exit_code == 0, result.output
    assert (repo / ci_file).is_file()
    assert load_blueprint(repo / "mlops-bp.yaml").platform.value == platform
    assert json.loads((repo / ".mlops-bp.json").read_text(encoding="utf-8"))["ci"] == ci


def test_level_three_adds_stack_files(tmp_path):
    repo = generate(tmp_path, 2)
    result = invoke("upgrade", "--to", "3", "--yes", "--repo", str(repo))
    assert result.exit_code == 0, result.output
    assert "stack prod (new stack)" in result.output
    for env in ("dev", "staging", "prod"):
        assert (repo / f"infra/Pulumi.{env}.yaml").is_file()
    assert (repo / ".github/workflows/deploy.yml").is_file()


def test_without_a_terminal_or_yes_nothing_is_written(tmp_path):
    repo = generate(tmp_path, 0)
    before = tree_state(repo)
    result = invoke("upgrade", "--to", "1", "--repo", str(repo))
    assert result.exit_code == 2
    assert "no terminal to ask for confirmation" in result.output
    assert tree_state(repo) == before


def test_confirmation_prompt(tmp_path, monkeypatch):
    repo = generate(tmp_path, 0)
    before = tree_state(repo)
    monkeypatch.setattr(lifecycle, "_interactive", lambda: True)
    declined = invoke("upgrade", "--to", "1", "--repo", str(repo), input="n\n")
    assert declined.exit_code == 1
    assert "aborted; nothing was changed" in declined.output
    assert tree_state(repo) == before
    accepted = invoke("upgrade", "--to", "1", "--repo", str(repo), input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert load_blueprint(repo / "mlops-bp.yaml").level == 1


def test_same_level_and_downgrade_are_refused(tmp_path):
    repo = generate(tmp_path, 3)
    same = invoke("upgrade", "--to", "3", "--yes", "--repo", str(repo))
    assert same.exit_code == 2
    assert "already at level 3" in same.output
    down = invoke("upgrade", "--to", "2", "--yes", "--repo", str(repo))
    assert down.exit_code == 2
    assert "--allow-downgrade" in down.output


def test_allowed_downgrade_names_every_deletion(tmp_path):
    repo = generate(tmp_path, 3)
    result = invoke("upgrade", "--to", "2", "--yes", "--allow-downgrade", "--repo", str(repo))
    assert result.exit_code == 0, result.output
    assert "`pulumi up` would delete" in result.output
    assert "prod: aws:s3:Bucket fraud-detect-prod-data-bucket" in result.output
    assert "DATA WOULD BE LOST" in result.output
    assert load_blueprint(repo / "mlops-bp.yaml").level == 2
    assert not (repo / "infra/Pulumi.prod.yaml").exists()
    assert not (repo / "tests/integration/test_endpoint.py").exists()  # a level-3 file


def test_upgrade_that_would_destroy_data_is_refused(tmp_path, monkeypatch):
    repo = generate(tmp_path, 1)
    before = tree_state(repo)
    _rename_data_bucket_from_level_2(monkeypatch, logical=True)
    result = invoke("upgrade", "--to", "2", "--yes", "--repo", str(repo))
    assert result.exit_code == 1
    assert "would replace or delete stateful resources" in result.output
    assert tree_state(repo) == before


@pytest.mark.parametrize("fail_at", [1, 4])
def test_interrupted_while_writing_leaves_the_repo_byte_identical(tmp_path, monkeypatch, fail_at):
    repo = generate(tmp_path, 1)
    edit(repo / "README.md", "## Layout", "## Ours\n\n## Layout")
    before = tree_state(repo)
    real_write = transaction._write_file
    calls = []

    def interrupted(target, data, mode):
        calls.append(target)
        if len(calls) == fail_at:
            raise KeyboardInterrupt
        real_write(target, data, mode)

    monkeypatch.setattr(transaction, "_write_file", interrupted)
    result = invoke("upgrade", "--to", "2", "--yes", "--repo", str(repo))
    assert result.exit_code == 130
    assert "interrupted; nothing was changed" in result.output
    assert len(calls) == fail_at
    assert tree_state(repo) == before


def test_error_while_preparing_writes_nothing(tmp_path, monkeypatch):
    repo = generate(tmp_path, 1)
    before = tree_state(repo)

    def broken_render(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(upgrade, "render_tree", broken_render)
    result = invoke("upgrade", "--to", "2", "--yes", "--repo", str(repo))
    assert result.exit_code == 130
    assert tree_state(repo) == before


def test_not_a_generated_repo(tmp_path):
    result = invoke("upgrade", "--to", "1", "--yes", "--repo", str(tmp_path))
    assert result.exit_code == 2
    assert "has no mlops-bp.yaml" in result.output
    (tmp_path / "mlops-bp.yaml").write_text("name: fraud-detect\nlevel: 1\n", encoding="utf-8")
    result = invoke("update", "--yes", "--repo", str(tmp_path))
    assert result.exit_code == 2
    assert "has no .mlops-bp.json" in result.output


def test_update_when_current_does_nothing(tmp_path):
    repo = generate(tmp_path, 1)
    before = tree_state(repo)
    result = invoke("update", "--yes", "--repo", str(repo))
    assert result.exit_code == 0, result.output
    assert "already up to date" in result.output
    assert tree_state(repo) == before


def _pretend_older_templates(repo: Path) -> None:
    """Make `repo` look generated by an older mlops-bp whose Makefile and README differed."""
    record = json.loads((repo / ".mlops-bp.json").read_text(encoding="utf-8"))
    (repo / ".mlops-bp.json").write_text(json.dumps({**record, "template_version": "0.0.9"}), encoding="utf-8")
    snapshot = json.loads((repo / BASE_SNAPSHOT).read_text(encoding="utf-8"))
    old_makefile = snapshot["files"]["Makefile"].replace("infra-test:", "infra-tests:")
    old_readme = snapshot["files"]["README.md"].replace("## Layout", "## Files")
    snapshot["files"].update({"Makefile": old_makefile, "README.md": old_readme})
    snapshot["template_version"] = "0.0.9"
    (repo / BASE_SNAPSHOT).write_text(json.dumps(snapshot), encoding="utf-8")
    (repo / "Makefile").write_text(old_makefile, encoding="utf-8")
    (repo / "README.md").write_text(
        old_readme.replace("# fraud-detect\n", "# fraud-detect\n\nOur intro.\n"), encoding="utf-8"
    )


def test_update_merges_newer_templates(tmp_path):
    repo = generate(tmp_path, 1)
    current_makefile = (repo / "Makefile").read_text(encoding="utf-8")
    _pretend_older_templates(repo)
    result = invoke("update", "--yes", "--repo", str(repo))
    assert result.exit_code == 0, result.output
    assert "templates 0.0.9 ->" in result.output
    assert (repo / "Makefile").read_text(encoding="utf-8") == current_makefile
    readme = (repo / "README.md").read_text(encoding="utf-8")
    assert "Our intro." in readme and "## Layout" in readme and "## Files" not in readme
    record = json.loads((repo / ".mlops-bp.json").read_text(encoding="utf-8"))
    assert record["template_version"] != "0.0.9"
    assert load_blueprint(repo / "mlops-bp.yaml").level == 1
    assert invoke("update", "--yes", "--repo", str(repo)).output.strip().endswith("already up to date")


def test_update_without_merge_base(tmp_path):
    repo = generate(tmp_path, 1)
    (repo / BASE_SNAPSHOT).unlink()
    # Same template version: the base is re-rendered, and recorded.
    result = invoke("update", "--yes", "--repo", str(repo))
    assert result.exit_code == 0, result.output
    assert (repo / BASE_SNAPSHOT).is_file()
    # Another version and no base: there is no sound merge, so it is refused.
    _pretend_older_templates(repo)
    (repo / BASE_SNAPSHOT).unlink()
    before = tree_state(repo)
    refused = invoke("update", "--yes", "--repo", str(repo))
    assert refused.exit_code == 2
    assert "install mlops-bp==0.0.9" in refused.output
    assert tree_state(repo) == before


@pytest.mark.parametrize("fail_at", [1, 3])
def test_a_full_disk_mid_upgrade_is_one_line_and_leaves_the_repo_as_it_was(tmp_path, monkeypatch, fail_at):
    import errno

    repo = generate(tmp_path, 1)
    before = tree_state(repo)
    real_write, calls = transaction._write_file, []

    def disk_full(target, data, mode):
        calls.append(target)
        if len(calls) == fail_at:
            raise OSError(errno.ENOSPC, "No space left on device", str(target))
        real_write(target, data, mode)

    monkeypatch.setattr(transaction, "_write_file", disk_full)
    result = invoke("upgrade", "--to", "2", "--yes", "--repo", str(repo))
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "No space left on device" in lines[0] and "Traceback" not in result.output
    assert tree_state(repo) == before
