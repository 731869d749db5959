"""The capture's own runtime hygiene: every event loop it starts is closed before it returns.

Unclosed loops of the mock monitor's worker threads used to be finalised at interpreter exit,
where `BaseEventLoop.__del__` sometimes printed "Invalid file descriptor: -1" on stderr of an
otherwise successful `plan` (about one run in thirty).
"""

from __future__ import annotations

import asyncio
import gc
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from mlops_bp.stacks.plan import plan

from .conftest import make_blueprint


def _open_loops() -> set[int]:
    gc.collect()
    return {id(obj) for obj in gc.get_objects() if isinstance(obj, asyncio.BaseEventLoop) and not obj.is_closed()}


def test_capture_closes_every_event_loop_it_starts():
    before = _open_loops()
    graph = plan(make_blueprint(4), "prod")
    assert graph.resources  # the program ran and registered resources
    assert _open_loops() - before == set()


def test_capture_leaves_no_worker_threads_behind():
    plan(make_blueprint(2))
    assert not [t for t in threading.enumerate() if t.name.startswith("mlops-bp-capture")]


def test_captures_run_back_to_back_in_one_process():
    # cost --compare and diff capture several graphs in one process.
    first = plan(make_blueprint(3), "staging")
    second = plan(make_blueprint(3), "staging")
    assert [r.urn for r in first.resources] == [r.urn for r in second.resources]


@pytest.mark.slow
def test_plan_subprocess_runs_print_nothing_on_stderr():
    """The flake was on stderr of a successful run: 30 runs, each must be silent there."""
    env = {**os.environ, "PYTHONWARNINGS": "default::ResourceWarning"}  # unclosed loops warn
    command = [
        str(Path(sys.executable).with_name("mlops-bp")),
        "plan",
        "--level",
        "4",
        "--github",
        "acme/fraud-detect",
        "--deployed",  # the fullest graph, and no notes: stderr must be empty
        "--json",
    ]
    for run in range(30):
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        assert done.stderr == "", f"run {run}: {done.stderr[-2000:]}"
