"""Wall-clock timing of commands run as subprocesses, shared by the benchmark scripts."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Case", "console_script", "import_time_by_package", "measure", "print_table"]


@dataclass
class Case:
    """One command to time; `times` fills up as `measure` runs it."""

    label: str
    argv: Sequence[str | os.PathLike[str]]
    times: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.times)


def console_script(name: str) -> Path:
    """The console script installed beside the running interpreter (the venv's), else on PATH.
    Resolving it this way skips shims such as pyenv's, which would add their own start-up."""
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return beside
    found = shutil.which(name)
    if found is None:
        sys.exit(f"{name} is not installed: run `pip install -e .` first")
    return Path(found)


def _run_once(case: Case, cwd: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run(
        [str(a) for a in case.argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{case.label} failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    return elapsed


def measure(cases: Sequence[Case], *, repeat: int, cwd: Path, warmup: int = 1) -> None:
    """Run every case `warmup` times untimed, then `repeat` times round-robin, so that drift in
    machine load hits all cases alike."""
    for case in cases:
        for _ in range(warmup):
            _run_once(case, cwd)
    for _ in range(repeat):
        for case in cases:
            case.times.append(_run_once(case, cwd))


def print_table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> None:
    widths = [max(len(str(r[i])) for r in (header, *rows)) for i in range(len(header))]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    print(line.format(*header))
    print(line.format(*("-" * w for w in widths)))
    for row in rows:
        print(line.format(*row))


def import_time_by_package(argv: Sequence[str | os.PathLike[str]], cwd: Path, top: int = 10) -> list[tuple[str, float]]:
    """Self import time (ms) per top-level package of a Python command, from -X importtime."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", *map(str, argv)],
        cwd=cwd,
        capture_output=True,
        text=True,
    )
    per_package: Counter[str] = Counter()
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _cumulative, name = line.removeprefix("import time:").split("|")
        per_package[name.strip().split(".")[0]] += int(self_us)
    return [(name, us / 1000) for name, us in per_package.most_common(top)]
