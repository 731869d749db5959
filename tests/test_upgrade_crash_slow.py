"""`mlops-bp upgrade` killed (SIGKILL) at each of its file writes, then run again, ends exactly
where an uninterrupted upgrade ends; two upgrades at once: one proceeds, one says "locked";
a dirty git tree is refused unless --force."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from . import faults
from .faults import KILL_AT_WRITE
from .test_upgrade_cli import edit, generate
from .test_upgrade_merge import tree_state

pytestmark = pytest.mark.slow

# The CLI in a child process that dies at its k-th transaction file write (tests/faults.py).
CLI = KILL_AT_WRITE + textwrap.dedent(
    """
    import sys
    from mlops_bp.cli.app import main
    sys.argv = ["mlops-bp", *sys.argv[1:]]
    main()
    """
)


def _upgrade(repo: Path, kill_at: int = 0) -> subprocess.CompletedProcess:
    args = [sys.executable, "-c", CLI, "upgrade", "--to", "2", "--yes", "--repo", str(repo)]
    return subprocess.run(args, env=faults.kill_at(kill_at), capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> tuple[Path, dict]:
    """A level-1 repo with a team edit, and the state an uninterrupted upgrade to 2 leaves."""
    repo = generate(tmp_path_factory.mktemp("pristine"), 1)
    edit(repo / "README.md", "## Layout", "## Our notes\n\nkept across upgrades\n\n## Layout")
    done_dir = tmp_path_factory.mktemp("done") / "repo"
    shutil.copytree(repo, done_dir, symlinks=True)
    done = _upgrade(done_dir)
    assert done.returncode == 0, done.stderr
    return repo, tree_state(done_dir)


def _writes(pristine) -> int:
    """How many files an upgrade writes: the rows of its own listing."""
    repo, after = pristine
    before = tree_state(repo)
    return sum(
        1
        for path in set(before) | set(after)
        if before.get(path) != after.get(path) and after.get(path, (None,))[0] is not None
    )


@pytest.mark.parametrize("where", ["first", "second", "middle", "last-but-one", "last"])
def test_a_killed_upgrade_run_again_ends_as_an_uninterrupted_one(pristine, tmp_path, where):
    repo_src, after = pristine
    count = _writes(pristine)
    kill_at = {"first": 1, "second": 2, "middle": count // 2, "last-but-one": count - 1, "last": count}[where]
    repo = tmp_path / "repo"
    shutil.copytree(repo_src, repo, symlinks=True)
    before = tree_state(repo)
    killed = _upgrade(repo, kill_at)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert tree_state(repo) != before  # it was killed half-way, with a journal on disk
    again = _upgrade(repo)
    assert again.returncode == 0, again.stderr
    assert "rolled back an interrupted upgrade" in again.stderr
    assert tree_state(repo) == after


def test_two_upgrades_at_once_one_is_locked_out(pristine, tmp_path):
    repo_src, after = pristine
    repo = tmp_path / "repo"
    shutil.copytree(repo_src, repo, symlinks=True)
    args = [sys.executable, "-c", CLI, "upgrade", "--to", "2", "--yes", "--repo", str(repo)]
    runs = [
        subprocess.Popen(args, env=faults.kill_at(0), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    results = [(run.wait(timeout=300), run.stderr.read()) for run in runs]
    codes = sorted(code for code, _ in results)
    if codes == [0, 0]:  # the second started after the first had finished: it found level 2
        pytest.fail(f"both ran: {results}")
    assert codes == [0, 2], results
    locked = next(err for code, err in results if code == 2)
    assert "locked" in locked or "already at level 2" in locked
    assert tree_state(repo) == after


def test_a_dirty_git_tree_is_refused_unless_forced(pristine, tmp_path):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo_src, after = pristine
    repo = tmp_path / "repo"
    shutil.copytree(repo_src, repo, symlinks=True)
    git = ["git", "-C", str(repo), "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "start"], check=True)
    edit(repo / "Makefile", "install:", "install:  # uncommitted")
    refused = _upgrade(repo)
    assert refused.returncode == 2 and "uncommitted changes" in refused.stderr
    forced = subprocess.run(
        [sys.executable, "-c", CLI, "upgrade", "--to", "2", "--yes", "--force", "--repo", str(repo)],
        env=faults.kill_at(0),
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert forced.returncode == 0, forced.stderr


def _init_force(out: Path, kill_at: int = 0) -> subprocess.CompletedProcess:
    args = [sys.executable, "-c", CLI, "init", "--level", "2", "--name", "fraud-detect"]
    args += ["--github", "acme/fraud-detect", "--no-input", "--force", "-o", str(out)]
    return subprocess.run(args, env=faults.kill_at(kill_at), capture_output=True, text=True, timeout=300, check=False)


def _existing(root: Path) -> Path:
    repo = root / "fraud-detect"
    (repo / "notes").mkdir(parents=True)
    (repo / "notes/ours.md").write_text("the team's own file\n")
    (repo / "README.md").write_text("# an older readme\n")
    return root


@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_a_killed_init_force_run_again_ends_as_an_uninterrupted_one(tmp_path, where):
    clean = _init_force(_existing(tmp_path / "clean"))
    assert clean.returncode == 0, clean.stderr
    after = tree_state(tmp_path / "clean" / "fraud-detect")
    count = sum(1 for path, (data, _) in after.items() if data is not None) - 1  # all but the team's file
    kill_at = {"first": 1, "middle": count // 2, "last": count}[where]
    out = _existing(tmp_path / "killed")
    killed = _init_force(out, kill_at)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    again = _init_force(out)
    assert again.returncode == 0, again.stderr
    assert tree_state(out / "fraud-detect") == after
    assert (out / "fraud-detect/notes/ours.md").read_text() == "the team's own file\n"
