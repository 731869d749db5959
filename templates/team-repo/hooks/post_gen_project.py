"""Post-generation hook: which files the repo keeps is decided in mlops_bp.templates.layout."""

import json
from pathlib import Path

from mlops_bp.templates.layout import finalize

finalize(
    Path.cwd(),
    level=int("{{ cookiecutter.level }}"),
    ci="{{ cookiecutter.ci }}",
    package="{{ cookiecutter.package_name }}",
    environments=json.loads('{{ cookiecutter._environments | map(attribute="name") | list | tojson }}'),
)
