"""The names the Blueprint refuses follow the generated repo's own dependencies."""

from __future__ import annotations

import re
import tomllib

from mlops_bp.blueprints.names import TEMPLATE_DEPENDENCIES
from mlops_bp.templates.render import render_tree

from .conftest import make_blueprint


def test_every_dependency_of_the_generated_repo_is_a_refused_name(tmp_path):
    for level, platform in ((4, "sagemaker"), (4, "kubernetes")):
        repo = tmp_path / f"{level}-{platform}"
        render_tree(make_blueprint(level, platform), "github", repo)
        project = tomllib.loads((repo / "pyproject.toml").read_text())["project"]
        requirements = [
            *project["dependencies"],
            *(r for extra in project["optional-dependencies"].values() for r in extra),
        ]
        requirements += [
            line
            for line in (repo / "infra/requirements.txt").read_text().splitlines()
            if line and not line.startswith("#")
        ]
        for requirement in requirements:
            name = re.match(r"[A-Za-z0-9._-]+", requirement)[0]
            assert name.lower() in TEMPLATE_DEPENDENCIES, f"{requirement}: add {name} to TEMPLATE_DEPENDENCIES"
