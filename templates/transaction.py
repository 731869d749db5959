"""Crash-safe changes to a generated repo: one writer at a time, all or nothing even under
SIGKILL, and recovery on the next run.

- `locked(repo)`: an exclusive `flock` on the `.mlops-bp/` folder (released by the kernel if
  the process dies; no lock file is left behind), and, once held, recovery of an interrupted
  transaction.
- `apply(repo, writes)`: a write-ahead journal in `.mlops-bp/journal/`. Every file about to
  change is first copied there, then `manifest.json` is written (atomically): from that moment a
  crash is rolled back by the next run. Files are then written one by one (each atomically, the
  marker files last); removing the manifest commits. A rollback restores each file on its own
  and reports those it could not restore instead of stopping half-way.
- Paths through a symbolic link are refused before anything is written: a link could point
  outside the repo (writes there) or at a private file (its content copied in).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from mlops_bp.blueprints import MlopsBpError, UserError

__all__ = ["JOURNAL_DIR", "STATE_DIR", "Write", "apply", "check_no_symlinks", "locked", "recover"]

STATE_DIR = ".mlops-bp"
JOURNAL_DIR = f"{STATE_DIR}/journal"
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Write:
    """One file change: `data` None deletes the file; `mode` applies to written files."""

    path: str
    data: bytes | None
    mode: int = 0o644


def check_no_symlinks(repo: Path, paths: Sequence[str]) -> None:
    """Refuse any path whose file or folder (below the repo) is a symbolic link."""
    for rel in paths:
        current = repo
        for part in Path(rel).parts:
            current = current / part
            if current.is_symlink():
                raise UserError(
                    f"{current.relative_to(repo).as_posix()}: is a symbolic link; mlops-bp does not write "
                    "through links (replace it with a real file or folder)"
                )


@contextlib.contextmanager
def locked(repo: Path) -> Iterator[str | None]:
    """Hold the repo's lock; yield what recovery did (None when there was nothing to recover)."""
    state = repo / STATE_DIR
    check_no_symlinks(repo, [STATE_DIR])
    try:
        state.mkdir(exist_ok=True)
        fd = os.open(state, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError as exc:
        raise UserError(f"{STATE_DIR}: cannot lock the repo: {exc.strerror or exc}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UserError(
                f"{repo}: locked: another mlops-bp upgrade or update is changing this repo; run again when it ends"
            ) from None
        yield recover(repo)
    finally:
        os.close(fd)  # closing releases the flock


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ctrl-C must not interrupt a rollback half-way (only the main thread can set handlers)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _atomic_write(target: Path, data: bytes, mode: int) -> None:
    """Write atomically: a synced sibling temporary file renamed over the target."""
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".mlops-bp-tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _write_file(target: Path, data: bytes, mode: int) -> None:
    """Write one of the transaction's files (the fault-injection tests count these calls)."""
    _atomic_write(target, data, mode)


def _remove_empty_parents(repo: Path, target: Path) -> None:
    folder = target.parent
    while folder != repo and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent


def recover(repo: Path) -> str | None:
    """Undo an interrupted transaction, if any. Idempotent: a crash during recovery is
    recovered by the next run."""
    journal = repo / JOURNAL_DIR
    if not journal.is_dir():
        return None
    manifest = journal / MANIFEST
    if not manifest.is_file():  # interrupted before the first change: nothing to undo
        shutil.rmtree(journal, ignore_errors=True)
        return "removed the journal of an upgrade interrupted before it changed anything"
    entries = json.loads(manifest.read_text(encoding="utf-8"))["entries"]
    failed = _roll_back(repo, journal, entries)
    if failed:
        raise MlopsBpError(
            f"could not roll back an interrupted upgrade for {', '.join(failed[:5])}; "
            f"fix those paths' permissions and run again (the journal stays in {JOURNAL_DIR})"
        )
    manifest.unlink()
    _fsync_dir(journal)
    shutil.rmtree(journal, ignore_errors=True)
    return f"rolled back an interrupted upgrade ({len(entries)} file(s) restored to their state before it)"


def _roll_back(repo: Path, journal: Path, entries: list[dict]) -> list[str]:
    """Restore every entry it can; return the paths it could not."""
    failed = []
    for entry in reversed(entries):
        target = repo / entry["path"]
        try:
            if entry["backup"] is None:
                with contextlib.suppress(FileNotFoundError):
                    target.unlink()
                _remove_empty_parents(repo, target)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                backup = journal / entry["backup"]
                _atomic_write(target, backup.read_bytes(), entry["mode"])
        except OSError:
            failed.append(entry["path"])
    return failed


def apply(repo: Path, writes: Sequence[Write], last: Sequence[str] = ()) -> None:
    """Make all of `writes` or none of them (errors, Ctrl-C and SIGKILL alike). The paths in
    `last` are written last, in that order: the records that say what the repo holds."""
    rank = {path: index for index, path in enumerate(last)}
    writes = sorted(writes, key=lambda w: rank.get(w.path, -1))  # stable: the rest keep their order
    check_no_symlinks(repo, [w.path for w in writes])
    journal = repo / JOURNAL_DIR
    if journal.exists():
        raise MlopsBpError(f"{JOURNAL_DIR}: an unfinished transaction; run the command again to recover it")
    made_state_dir = not (repo / STATE_DIR).exists()
    journal.mkdir(parents=True)
    try:
        _apply(repo, journal, writes)
    finally:
        if made_state_dir:  # leave the repo as it was when it had no .mlops-bp/ of its own
            with contextlib.suppress(OSError):
                (repo / STATE_DIR).rmdir()


def _apply(repo: Path, journal: Path, writes: Sequence[Write]) -> None:
    entries = []
    try:
        for index, write in enumerate(writes):
            target = repo / write.path
            backup = None
            mode = write.mode
            if target.exists():
                backup = str(index)
                mode = target.stat().st_mode & 0o7777
                shutil.copyfile(target, journal / backup)
            entries.append({"path": write.path, "backup": backup, "mode": mode})
        _atomic_write(journal / MANIFEST, json.dumps({"entries": entries}).encode(), 0o644)
        _fsync_dir(journal)
    except BaseException:
        shutil.rmtree(journal, ignore_errors=True)
        raise
    try:
        for write, entry in zip(writes, entries, strict=True):
            target = repo / write.path
            if write.data is None:
                target.unlink()
                _remove_empty_parents(repo, target)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                _write_file(target, write.data, entry["mode"])
    except BaseException:
        with _sigint_ignored():
            failed = _roll_back(repo, journal, entries)
            if not failed:
                (journal / MANIFEST).unlink()
                shutil.rmtree(journal, ignore_errors=True)
        raise
    (journal / MANIFEST).unlink()  # the commit point
    _fsync_dir(journal)
    shutil.rmtree(journal, ignore_errors=True)
