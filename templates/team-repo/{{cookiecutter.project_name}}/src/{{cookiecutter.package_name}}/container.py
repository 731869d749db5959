"""SageMaker's contract with the containers of the training pipeline, read without the
sagemaker-training toolkit (only that toolkit sets SM_CHANNEL_* and SM_MODEL_DIR).

A training job finds each input channel in <root>/input/data/<channel>/ and its hyperparameters
in <root>/input/config/hyperparameters.json (a JSON object whose values are all strings); it
writes the model to <root>/model/, which SageMaker packs into model.tar.gz, and the reason of a
failure to <root>/output/failure, which becomes the job's FailureReason. <root> is /opt/ml, or
MLOPS_BP_OPT_ML for tests and local runs. Processing jobs get their folders as arguments and
report failures on stderr (report_failure).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

ROOT_VARIABLE = "MLOPS_BP_OPT_ML"
DEFAULT_ROOT = Path("/opt/ml")
# SageMaker keeps this many characters of a failure reason.
MAX_FAILURE_CHARS = 1024


def one_line(exc: BaseException) -> str:
    """An exception's message on one line (the log and the failure reason show one line)."""
    return " ".join(str(exc).split()) or type(exc).__name__


def report_failure(step: str, exc: Exception) -> int:
    """Print why `step` failed as one line on stderr and return the exit code 1; exceptions
    other than bad input (ValueError, OSError) are bugs and keep their traceback."""
    if not isinstance(exc, ValueError | OSError):
        traceback.print_exception(exc)
    print(f"{step}: {one_line(exc)}", file=sys.stderr)
    return 1


@dataclass(frozen=True)
class TrainingContainer:
    """The paths of a training job's contract under one root."""

    root: Path

    @classmethod
    def from_environment(cls) -> TrainingContainer:
        return cls(Path(os.environ.get(ROOT_VARIABLE) or DEFAULT_ROOT))

    def channel(self, name: str) -> Path:
        return self.root / "input" / "data" / name

    @property
    def hyperparameters_file(self) -> Path:
        return self.root / "input" / "config" / "hyperparameters.json"

    @property
    def model_dir(self) -> Path:
        return self.root / "model"

    @property
    def failure_file(self) -> Path:
        return self.root / "output" / "failure"

    def hyperparameters(self) -> dict[str, str]:
        """The job's hyperparameters as SageMaker passes them; none without the file."""
        path = self.hyperparameters_file
        if not path.is_file():
            return {}
        try:
            values = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path}: not valid JSON ({exc})") from None
        if not isinstance(values, dict):
            raise ValueError(f"{path}: expected a JSON object")
        not_strings = sorted(name for name, value in values.items() if not isinstance(value, str))
        if not_strings:
            raise ValueError(
                f"{path}: hyperparameter values must be strings, as SageMaker passes them; "
                f"not strings: {', '.join(not_strings)}"
            )
        return values

    def fail(self, exc: Exception) -> int:
        """Report a failed training job: the failure file, stderr, exit code 1."""
        with contextlib.suppress(OSError):  # stderr carries the reason anyway
            self.failure_file.parent.mkdir(parents=True, exist_ok=True)
            self.failure_file.write_text(one_line(exc)[:MAX_FAILURE_CHARS], encoding="utf-8")
        return report_failure("train", exc)
