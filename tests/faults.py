"""Fault injection for the crash tests: a prelude that makes a child process SIGKILL itself at
its k-th transaction file write (`MLOPS_BP_TEST_KILL_AT`, 0: never), before the write."""

from __future__ import annotations

import os
import textwrap

KILL_AT_WRITE = textwrap.dedent(
    """
    import os, signal
    from mlops_bp.templates import transaction
    _kill_at, _calls, _real_write = int(os.environ["MLOPS_BP_TEST_KILL_AT"]), [], transaction._write_file
    def _killing_write(target, data, mode):
        _calls.append(target)
        if len(_calls) == _kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        _real_write(target, data, mode)
    transaction._write_file = _killing_write
    """
)


def kill_at(write: int) -> dict[str, str]:
    """The environment of a child that dies at its `write`-th file write (0: never)."""
    return {**os.environ, "MLOPS_BP_TEST_KILL_AT": str(write)}
