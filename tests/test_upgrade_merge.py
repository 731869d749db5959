"""The upgrade machinery on small hand-made trees: three-way merge of every file and the
all-or-nothing transaction that writes the result."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from mlops_bp.blueprints import UserError
from mlops_bp.templates import transaction
from mlops_bp.templates.snapshot import BASE_SNAPSHOT, RenderedFile, read_snapshot, read_tree, snapshot_text
from mlops_bp.templates.upgrade import FileAction, apply_changes, merge_trees, three_way_merge

LABELS = ("yours", "template level 1", "template level 2")
README_V1 = b"# Project\n\nIntro.\n\n## Usage\n\nRun make.\n\n## License\n\nApache-2.0\n"


def tree_state(root: Path) -> dict[str, tuple[bytes | None, int]]:
    """Every file (content, mode) and folder under `root`: what "byte-identical" compares."""
    state: dict[str, tuple[bytes | None, int]] = {}
    for path in sorted(root.rglob("*")):
        mode = stat.S_IMODE(path.lstat().st_mode)
        state[path.relative_to(root).as_posix()] = (path.read_bytes() if path.is_file() else None, mode)
    return state


def write(root: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)


def rendered(files: dict[str, bytes], executable: frozenset[str] = frozenset()) -> dict[str, RenderedFile]:
    return {p: RenderedFile(d, p in executable) for p, d in files.items()}


def test_merge_keeps_both_sides_edits():
    yours = README_V1.replace(b"Intro.", b"Intro by the fraud team.")
    theirs = README_V1.replace(b"Run make.", b"Run make, then make deploy.")
    merged, conflicts = three_way_merge(yours, README_V1, theirs, LABELS)
    assert conflicts == 0
    assert b"Intro by the fraud team." in merged and b"make deploy" in merged


def test_conflicting_edits_leave_standard_markers():
    yours = README_V1.replace(b"Run make.", b"Run ./go.sh")
    theirs = README_V1.replace(b"Run make.", b"Run make all.")
    merged, conflicts = three_way_merge(yours, README_V1, theirs, LABELS)
    assert conflicts == 1
    text = merged.decode()
    assert "<<<<<<< yours\nRun ./go.sh\n=======\nRun make all.\n>>>>>>> template level 2\n" in text


# Every case of merge_trees, in one repo: path -> (base, new template, team's file).
CASES = {
    "added.txt": (None, b"new\n", None),
    "unedited.txt": (b"v1\n", b"v2\n", b"v1\n"),
    "merged.md": (README_V1, README_V1.replace(b"Run make.", b"Run make all."), README_V1.replace(b"Intro.", b"Ours.")),
    "conflict.md": (
        README_V1,
        README_V1.replace(b"Run make.", b"Run make all."),
        README_V1.replace(b"Run make.", b"Run it."),
    ),
    "dropped.txt": (b"old\n", None, b"old\n"),
    "dropped-edited.txt": (b"old\n", None, b"old, edited\n"),
    "deleted-by-team.txt": (b"v1\n", b"v2\n", None),
    "same-in-template.txt": (b"v1\n", b"v1\n", b"edited\n"),
    "already-new.txt": (b"v1\n", b"v2\n", b"v2\n"),
    "team-created.txt": (None, b"template\n", b"team\n"),
    "mlops-bp.yaml": (None, b"level: 2\n", b"level: 1\n"),
}
EXPECTED = {
    "added.txt": FileAction.ADD,
    "unedited.txt": FileAction.UPDATE,
    "merged.md": FileAction.MERGE,
    "conflict.md": FileAction.CONFLICT,
    "dropped.txt": FileAction.DELETE,
    "dropped-edited.txt": FileAction.KEEP_EDITED,
    "deleted-by-team.txt": FileAction.KEEP_DELETED,
    "team-created.txt": FileAction.CONFLICT,
    "mlops-bp.yaml": FileAction.WRITE,
}


@pytest.fixture
def case_repo(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    write(repo, {p: yours for p, (_, _, yours) in CASES.items() if yours is not None})
    write(repo, {"src/team_only.py": b"print('ours')\n"})
    base = {p: b for p, (b, _, _) in CASES.items() if b is not None}
    new = rendered({p: t for p, (_, t, _) in CASES.items() if t is not None})
    return repo, base, new


def test_merge_trees_decides_every_case(case_repo):
    repo, base, new = case_repo
    changes = merge_trees(repo, base, new, LABELS)
    assert {c.path: c.action for c in changes.changes} == EXPECTED
    by_path = {c.path: c for c in changes.changes}
    assert by_path["conflict.md"].conflicts == 1
    assert b"<<<<<<< yours" in by_path["team-created.txt"].data
    assert by_path["mlops-bp.yaml"].data == b"level: 2\n"
    assert [c.path for c in changes.conflicts] == ["conflict.md", "team-created.txt"]
    assert changes.to_dict()["keep-edited"] == ["dropped-edited.txt"]
    reported_only = {c.path for c in changes.changes} - {c.path for c in changes.writes}
    assert reported_only == {"dropped-edited.txt", "deleted-by-team.txt"}


def test_apply_changes_writes_the_merge(case_repo):
    repo, base, new = case_repo
    before = tree_state(repo)
    apply_changes(repo, merge_trees(repo, base, new, LABELS))
    after = tree_state(repo)
    assert after["added.txt"][0] == b"new\n"
    assert after["unedited.txt"][0] == b"v2\n"
    assert after["merged.md"][0] == README_V1.replace(b"Run make.", b"Run make all.").replace(b"Intro.", b"Ours.")
    assert b">>>>>>> template level 2" in after["conflict.md"][0]
    assert "dropped.txt" not in after
    assert after["dropped-edited.txt"] == before["dropped-edited.txt"]
    assert "deleted-by-team.txt" not in after
    assert after["same-in-template.txt"] == before["same-in-template.txt"]
    assert after["src/team_only.py"] == before["src/team_only.py"]
    # Applying again finds nothing left to do except what the team must resolve.
    again = merge_trees(repo, base | {p: new[p].data for p in new}, new, LABELS)
    assert again.writes == []


def test_new_folders_modes_and_emptied_folders(tmp_path):
    repo = tmp_path / "repo"
    write(repo, {"old/only.txt": b"x\n", "run.sh": b"echo 1\n"})
    os.chmod(repo / "run.sh", 0o750)
    base = {"old/only.txt": b"x\n", "run.sh": b"echo 1\n"}
    new = rendered(
        {"run.sh": b"echo 2\n", ".github/workflows/ci.yml": b"on: push\n", "bin/go": b"#!/bin/sh\n"},
        frozenset({"bin/go"}),
    )
    apply_changes(repo, merge_trees(repo, base, new, LABELS))
    assert (repo / ".github/workflows/ci.yml").read_bytes() == b"on: push\n"
    assert stat.S_IMODE((repo / "run.sh").stat().st_mode) == 0o750  # the team's mode is kept
    assert (repo / "bin/go").stat().st_mode & stat.S_IXUSR
    assert not (repo / ".github/workflows/ci.yml").stat().st_mode & stat.S_IXUSR
    assert not (repo / "old").exists()  # the folder only held the dropped file


@pytest.mark.parametrize("fail_at", [1, 3, 6])
@pytest.mark.parametrize("error", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_failure_mid_way_leaves_the_repo_byte_identical(case_repo, monkeypatch, fail_at, error):
    repo, base, new = case_repo
    new = {**new, "deep/new/folder/file.txt": RenderedFile(b"x\n")}
    changes = merge_trees(repo, base, new, LABELS)
    before = tree_state(repo)
    real_write = transaction._write_file
    calls = []

    def failing_write(target, data, mode):
        calls.append(target)
        if len(calls) == fail_at:
            raise error
        real_write(target, data, mode)

    monkeypatch.setattr(transaction, "_write_file", failing_write)
    with pytest.raises(type(error)):
        apply_changes(repo, changes)
    assert len(calls) == fail_at
    assert tree_state(repo) == before


def test_failure_after_a_deletion_restores_it(tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    write(repo, {"a/dropped.txt": b"old\n", "z.txt": b"v1\n"})
    changes = merge_trees(repo, {"a/dropped.txt": b"old\n", "z.txt": b"v1\n"}, rendered({"z.txt": b"v2\n"}), LABELS)
    assert [c.action for c in changes.writes] == [FileAction.DELETE, FileAction.UPDATE]
    before = tree_state(repo)

    def broken(*args):
        raise OSError("read-only file system")

    monkeypatch.setattr(transaction, "_write_file", broken)
    with pytest.raises(OSError):
        apply_changes(repo, changes)
    assert tree_state(repo) == before


def test_files_changed_after_planning_stop_the_upgrade(case_repo):
    repo, base, new = case_repo
    changes = merge_trees(repo, base, new, LABELS)
    (repo / "unedited.txt").write_bytes(b"edited meanwhile\n")
    before = tree_state(repo)
    with pytest.raises(UserError, match="unedited.txt: changed while the upgrade was being prepared"):
        apply_changes(repo, changes)
    assert tree_state(repo) == before


def test_binary_files_both_sides_changed_are_kept_and_listed(tmp_path):
    repo = tmp_path / "repo"
    write(repo, {"logo.png": b"\x89PNG\0ours"})
    changes = merge_trees(repo, {"logo.png": b"\x89PNG\0base"}, rendered({"logo.png": b"\x89PNG\0new"}), LABELS)
    [change] = changes.conflicts
    assert change.conflicts == 0 and not change.changes_repo
    apply_changes(repo, changes)
    assert (repo / "logo.png").read_bytes() == b"\x89PNG\0ours"


def test_a_folder_where_the_template_has_a_file_is_a_user_error(tmp_path):
    (tmp_path / "README.md").mkdir()
    with pytest.raises(UserError, match="README.md: is a directory"):
        merge_trees(tmp_path, {}, rendered({"README.md": b"x\n"}), LABELS)


def test_snapshot_round_trip_leaves_managed_files_out(tmp_path):
    tree = rendered({"README.md": "héllo\n".encode(), "logo.png": b"\x89PNG\0\xff", "mlops-bp.yaml": b"level: 1\n"})
    (tmp_path / BASE_SNAPSHOT).parent.mkdir()
    (tmp_path / BASE_SNAPSHOT).write_text(snapshot_text(tree, "0.1.0"), encoding="utf-8")
    version, files = read_snapshot(tmp_path)
    assert version == "0.1.0"
    assert files == {"README.md": "héllo\n".encode(), "logo.png": b"\x89PNG\0\xff"}
    assert snapshot_text(tree, "0.1.0") == snapshot_text(dict(reversed(tree.items())), "0.1.0")


def test_snapshot_missing_or_corrupt(tmp_path):
    assert read_snapshot(tmp_path) is None
    (tmp_path / BASE_SNAPSHOT).parent.mkdir()
    (tmp_path / BASE_SNAPSHOT).write_text("{not json", encoding="utf-8")
    with pytest.raises(UserError, match="not a merge base written by mlops-bp"):
        read_snapshot(tmp_path)


def test_read_tree(tmp_path):
    write(tmp_path, {"a/b.txt": b"1", "c.sh": b"2"})
    os.chmod(tmp_path / "c.sh", 0o755)
    assert read_tree(tmp_path) == {"a/b.txt": RenderedFile(b"1", False), "c.sh": RenderedFile(b"2", True)}


def test_missing_git_is_a_user_error(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(UserError, match="git: not found on PATH"):
        three_way_merge(b"a\n", b"b\n", b"c\n", LABELS)
