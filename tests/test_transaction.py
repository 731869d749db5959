"""Crash safety of changes to a repo (templates/transaction.py), with real SIGKILLs.

A child process applies a transaction and is killed at its k-th file write, for every k; the
next `recover` (what every upgrade/update does first, under the lock) brings the tree back to
exactly what it was. Locks, symlinks and unwritable folders are tested the same way.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mlops_bp.blueprints import MlopsBpError, UserError
from mlops_bp.templates import transaction
from mlops_bp.templates.transaction import JOURNAL_DIR, Write, apply, locked, recover

from .faults import KILL_AT_WRITE, kill_at

BEFORE = {"a.txt": b"a1\n", "keep/b.txt": b"b1\n", "gone/c.txt": b"c1\n", "mlops-bp.yaml": b"level: 1\n"}
WRITES = [
    Write("a.txt", b"a2\n"),
    Write("new/deep/d.txt", b"d\n"),
    Write("gone/c.txt", None),
    Write("keep/b.txt", b"b2\n"),
    Write("mlops-bp.yaml", b"level: 2\n"),  # the marker, last
]
KILLER = KILL_AT_WRITE + textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    repo, payload = Path(sys.argv[1]), json.loads(sys.argv[2])
    writes = [transaction.Write(w["path"], w["data"].encode() if w["data"] is not None else None) for w in payload]
    transaction.apply(repo, writes)
    """
)


def tree(root: Path) -> dict[str, bytes | None]:
    return {
        p.relative_to(root).as_posix(): (p.read_bytes() if p.is_file() else None)
        for p in sorted(root.rglob("*"))
        if ".mlops-bp" not in p.relative_to(root).parts
    }


def make(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def _run_killed(repo: Path, write: int) -> subprocess.CompletedProcess:
    payload = json.dumps([{"path": w.path, "data": w.data.decode() if w.data is not None else None} for w in WRITES])
    return subprocess.run(
        [sys.executable, "-c", KILLER, str(repo), payload],
        env=kill_at(write),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("write", range(1, 5))  # 4 file writes (and a deletion between)
def test_sigkill_at_any_write_is_rolled_back_by_the_next_run(tmp_path, write):
    repo = make(tmp_path / "repo", BEFORE)
    before = tree(repo)
    done = _run_killed(repo, write)
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert (repo / JOURNAL_DIR / "manifest.json").is_file()  # the crash left its journal
    assert "rolled back an interrupted upgrade" in recover(repo)
    assert tree(repo) == before
    assert not (repo / JOURNAL_DIR).exists()
    assert recover(repo) is None  # idempotent: nothing left to do


def test_a_completed_transaction_leaves_the_after_state_and_no_journal(tmp_path):
    repo = make(tmp_path / "repo", BEFORE)
    done = _run_killed(repo, 99)  # never reaches a 99th write
    assert done.returncode == 0, done.stderr
    after = {
        **BEFORE,
        "a.txt": b"a2\n",
        "keep/b.txt": b"b2\n",
        "mlops-bp.yaml": b"level: 2\n",
        "new/deep/d.txt": b"d\n",
    }
    del after["gone/c.txt"]
    assert {k: v for k, v in tree(repo).items() if v is not None} == after
    assert not (repo / JOURNAL_DIR).exists()


def test_a_journal_without_manifest_changed_nothing_and_is_dropped(tmp_path):
    repo = make(tmp_path / "repo", BEFORE)
    (repo / JOURNAL_DIR).mkdir(parents=True)
    (repo / JOURNAL_DIR / "0").write_bytes(b"a copy made before the crash")
    assert "before it changed anything" in recover(repo)
    assert tree(repo) == tree(make(tmp_path / "same", BEFORE))


def test_only_one_process_holds_the_repo(tmp_path):
    repo = make(tmp_path / "repo", BEFORE)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path\n"
         "from mlops_bp.templates.transaction import locked\n"
         "with locked(Path(sys.argv[1])):\n    print('held', flush=True); time.sleep(30)", str(repo)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        with (
            pytest.raises(UserError, match=r"locked: another mlops-bp upgrade or update is changing this repo"),
            locked(repo),
        ):
            pass
    finally:
        holder.kill()
        holder.wait()
    with locked(repo) as recovered:  # the kernel released the dead holder's lock
        assert recovered is None


def test_paths_through_symlinks_are_refused_before_anything_is_written(tmp_path):
    outside = make(tmp_path / "outside", {"secret.txt": b"private\n"})
    repo = make(tmp_path / "repo", BEFORE)
    (repo / "linked").symlink_to(outside, target_is_directory=True)
    (repo / "file-link.txt").symlink_to(outside / "secret.txt")
    before = tree(repo)
    for path in ("linked/secret.txt", "file-link.txt"):
        with pytest.raises(UserError, match="is a symbolic link"):
            apply(repo, [Write("a.txt", b"changed\n"), Write(path, b"through the link\n")])
    assert tree(repo) == before and (outside / "secret.txt").read_bytes() == b"private\n"


def test_a_rollback_that_cannot_restore_keeps_the_journal_for_the_next_run(tmp_path, monkeypatch):
    repo = make(tmp_path / "repo", BEFORE)
    before = tree(repo)
    real_write, calls = transaction._atomic_write, []

    def restore_fails(target, data, mode):
        raise OSError("read-only file system")

    def fail_third(target, data, mode):
        calls.append(target)
        if len(calls) == 3:  # the disk fills, and restoring fails too
            monkeypatch.setattr(transaction, "_atomic_write", restore_fails)
            raise OSError("disk full")
        real_write(target, data, mode)

    monkeypatch.setattr(transaction, "_write_file", fail_third)
    with pytest.raises(OSError, match="disk full"):
        apply(repo, WRITES)
    assert (repo / JOURNAL_DIR / "manifest.json").is_file()
    monkeypatch.undo()
    with pytest.raises(MlopsBpError, match="an unfinished transaction"):
        apply(repo, WRITES)
    assert "rolled back" in recover(repo)  # the file system is writable again: all restored
    assert tree(repo) == before


def test_the_records_named_last_are_written_last(tmp_path, monkeypatch):
    repo = make(tmp_path / "repo", BEFORE)
    order, real = [], transaction._write_file

    def recording(target, data, mode):
        order.append(target.relative_to(repo).as_posix())
        real(target, data, mode)

    monkeypatch.setattr(transaction, "_write_file", recording)
    apply(repo, [WRITES[-1], *WRITES[:-1]], last=("mlops-bp.yaml",))
    assert order == ["a.txt", "new/deep/d.txt", "keep/b.txt", "mlops-bp.yaml"]
