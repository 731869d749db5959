"""Files the user gives are read one way (blueprints/userfiles.py): each bad one ends quickly in
one line on stderr, exit code 2, no traceback, nothing written, and never an unbounded echo of
its content (a bad value is shown cut short)."""

from __future__ import annotations

import os
import time

import pytest
from typer.testing import CliRunner

from mlops_bp.cli.app import app

runner = CliRunner()


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


def _cases(tmp_path):
    """name -> a path to give as the file."""
    nested = b"a: " + b"[" * 5000 + b"]" * 5000 + b"\n"
    bomb = b'a: &a ["x","x","x","x","x","x","x","x","x"]\n' + b"".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)}]\n".encode()
        for i in range(9)
    )
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    dangling = tmp_path / "dangling.yaml"
    dangling.symlink_to(tmp_path / "nowhere.yaml")
    folder = tmp_path / "folder.yaml"
    folder.mkdir()
    return {
        "binary": _write(tmp_path / "binary.yaml", b"\x00\xff\xfe" * 100),
        "latin-1": _write(tmp_path / "latin1.yaml", "name: caf\xe9\n".encode("latin-1")),
        "huge": _write(tmp_path / "huge.yaml", b"# " + b"x" * (2 * 1024 * 1024) + b"\n"),
        "nested": _write(tmp_path / "nested.yaml", nested),
        "alias-bomb": _write(tmp_path / "bomb.yaml", bomb),
        "not-yaml": _write(tmp_path / "bad.yaml", b"a: [unclosed\n"),
        "list": _write(tmp_path / "list.yaml", b"- 1\n- 2\n"),
        "long-value": _write(tmp_path / "long.yaml", f"name: {'x' * 100000}\nlevel: 1\n".encode()),
        "fifo": fifo,
        "directory": folder,
        "dangling-symlink": dangling,
        "missing": tmp_path / "missing.yaml",
        "dev-zero": "/dev/zero",
    }


COMMANDS = {
    "plan --config": lambda path: ["plan", "--config", str(path)],
    "cost --config": lambda path: ["cost", "--config", str(path)],
    "cost --usage": lambda path: ["cost", "--level", "1", "--usage", str(path)],
    "init --config": lambda path: ["init", "--config", str(path), "--no-input", "-o", "OUT"],
    "doctor --config": lambda path: ["doctor", "--config", str(path)],
}
NAMES = [
    "binary", "latin-1", "huge", "nested", "alias-bomb", "not-yaml", "list", "long-value",
    "fifo", "directory", "dangling-symlink", "missing", "dev-zero",
]  # fmt: skip


@pytest.mark.parametrize("case", NAMES)
@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_bad_file_is_one_line_exit_2_and_writes_nothing(tmp_path, command, case):
    path = _cases(tmp_path)[case]
    out = tmp_path / "out"
    args = [a.replace("OUT", str(out)) for a in COMMANDS[command](path)]
    started = time.monotonic()
    result = runner.invoke(app, args)
    assert time.monotonic() - started < 5
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    assert len(lines[0]) < 400  # bounded, whatever the file holds
    assert not out.exists()


@pytest.mark.parametrize(
    "target",
    ["a folder", "a missing folder", "a dangling link", "an unwritable place"],
)
def test_an_output_path_that_cannot_be_written_is_one_line_exit_2(tmp_path, target):
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "nowhere")
    args = {
        "a folder": ["schema", "--output", str(tmp_path)],
        "a missing folder": ["schema", "--output", str(tmp_path / "missing" / "schema.json")],
        "a dangling link": ["init", "--level", "0", "--no-input", "-o", str(dangling)],
        "an unwritable place": ["init", "--level", "0", "--no-input", "-o", "/proc/1/repos"],
    }[target]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
