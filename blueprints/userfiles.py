"""The one way files the user gives (`--config`, `--usage`, `mlops-bp.yaml`) are read.

Regular files only (no FIFO that hangs, no device that never ends, no directory), at most
MAX_BYTES, UTF-8, and YAML without aliases (a few hundred bytes of aliases can expand to
gigabytes) nested at most MAX_DEPTH deep (deeper input exhausts the parser's recursion). Every
refusal and every OSError is one UserError line naming the file and what is wrong; no message
repeats the file's content.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import yaml

from .errors import UserError

__all__ = ["MAX_BYTES", "MAX_DEPTH", "load_user_yaml", "read_user_text"]

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 50


def read_user_text(path: str | Path, what: str) -> str:
    """The text of the regular file `path`; `what` names the option in messages."""
    path = Path(path)
    try:
        info = path.stat()  # follows a symlink: its target must be a regular file too
    except FileNotFoundError:
        kind = "is a broken symbolic link" if path.is_symlink() else "does not exist"
        raise UserError(f"{what}: {path} {kind}") from None
    except OSError as exc:
        raise UserError(f"{what}: cannot read {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        kind = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file (a pipe, device or socket)"
        raise UserError(f"{what}: {path} is {kind}")
    if info.st_size > MAX_BYTES:
        raise UserError(f"{what}: {path} is {info.st_size} bytes; at most {MAX_BYTES} are read")
    try:
        # Non-blocking: a file swapped for a FIFO after the check must not hang the command.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise UserError(f"{what}: cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_BYTES:
        raise UserError(f"{what}: {path} is larger than {MAX_BYTES} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(f"{what}: {path} is not UTF-8 text (byte {exc.start} is not)") from None


def _check_structure(text: str, path: Path, what: str) -> None:
    """Refuse aliases and deep nesting by scanning the event stream (iterative, so it cannot
    exhaust the recursion that composing deep documents would)."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent):
            line = event.start_mark.line + 1 if event.start_mark else "?"
            raise UserError(
                f"{what}: {path}: YAML aliases (*name, line {line}) are not supported; write the values out"
            )
        if isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise UserError(f"{what}: {path}: nested deeper than {MAX_DEPTH} levels")
        elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            depth -= 1


def load_user_yaml(path: str | Path, what: str) -> Any:
    """The YAML document of the user's file `path` (None when empty)."""
    path = Path(path)
    text = read_user_text(path, what)
    try:
        _check_structure(text, path, what)
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise UserError(f"{what}: {path}: not valid YAML{where}") from None
