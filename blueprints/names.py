"""What the project name becomes in the generated repo, and the names it must not take.

The name is the repo's Python distribution (`pyproject.toml` name) and, with `-` as `_`, its
import package (`src/<package>/`). A name that is a Python keyword, a standard-library module or
one of the repo's own dependencies would not import, would hide that module, or would make pip
resolve the project against itself. Pure data: the Blueprint checks these when it validates, so
`plan`, `init`, `cost` and `pulumi up` give the same verdict.
"""

from __future__ import annotations

import keyword
import re
import sys

__all__ = ["SUPPORTED_METRICS", "TEMPLATE_DEPENDENCIES", "package_name", "package_name_error"]

# Metrics the generated repo's evaluate step computes (training.metric_name picks one).
SUPPORTED_METRICS = ("accuracy", "f1", "precision", "recall", "roc_auc")

# Distributions the generated repo installs (its pyproject's dependencies and extras, and the
# packages they bring that its code imports), as import names and normalized distribution names.
# tests/test_blueprint_names.py checks the template's pyproject against this list.
TEMPLATE_DEPENDENCIES = frozenset(
    {
        "boto3", "botocore", "s3transfer", "jmespath", "urllib3",
        "dvc",
        "flask", "werkzeug", "jinja2", "markupsafe", "itsdangerous", "click", "blinker",
        "gunicorn", "packaging",
        "joblib", "numpy", "scipy", "threadpoolctl", "scikit-learn", "sklearn",
        "skops", "prettytable", "wcwidth",
        "pytest", "pluggy", "iniconfig", "ruff",
        "mlops-bp", "mlops_bp", "pulumi", "pulumi-aws", "pulumi_aws", "pulumi-kubernetes", "pulumi_kubernetes",
    }
)  # fmt: skip


def package_name(name: str) -> str:
    """The import package of project `name` (`fraud-detect` -> `fraud_detect`)."""
    return name.replace("-", "_")


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def package_name_error(name: str) -> str | None:
    """Why `name` cannot name the generated repo's Python package, or None."""
    package = package_name(name)
    if not package[:1].isalpha():
        return f"must start with a letter: it names the Python package {package!r}"
    if keyword.iskeyword(package):
        return f"{package!r} is a Python keyword, which cannot name the repo's Python package"
    if package in sys.stdlib_module_names:
        return f"the repo's Python package {package!r} would hide Python's own module of that name"
    if _normalized(name) in {_normalized(d) for d in TEMPLATE_DEPENDENCIES}:
        return f"{name!r} is a package the generated repo depends on; pick a name of your own"
    return None
