"""How a generated repo installs mlops-bp: from how the running one was installed, or a choice."""

from __future__ import annotations

import json

import pytest

from mlops_bp.blueprints import UserError
from mlops_bp.templates import stack_builder as sb
from mlops_bp.templates.render import render_tree

from .conftest import make_blueprint


class _Dist:
    def __init__(self, direct_url: dict | None, version: str = "1.2.3") -> None:
        self.version = version
        self._direct = direct_url

    def read_text(self, name: str) -> str | None:
        assert name == "direct_url.json"
        return json.dumps(self._direct) if self._direct is not None else None


@pytest.mark.parametrize(
    ("direct_url", "requirement", "reproducible"),
    [
        (None, "mlops-bp==1.2.3", True),  # from an index: no direct_url.json
        (
            {"url": "https://github.com/acme/mlops-bp", "vcs_info": {"vcs": "git", "commit_id": "0123abcd"}},
            "mlops-bp @ git+https://github.com/acme/mlops-bp@0123abcd",
            True,
        ),
        (
            {"url": "https://files.acme.example/mlops_bp-1.2.3-py3-none-any.whl", "archive_info": {}},
            "mlops-bp @ https://files.acme.example/mlops_bp-1.2.3-py3-none-any.whl",
            True,
        ),
        ({"url": "file:///home/me/mlops-bp", "dir_info": {"editable": True}}, "mlops-bp==1.2.3", False),
        ({"url": "file:///tmp/mlops_bp-1.2.3-py3-none-any.whl", "archive_info": {}}, "mlops-bp==1.2.3", False),
    ],
    ids=["index", "git", "wheel-url", "local-folder", "local-wheel"],
)
def test_the_requirement_follows_how_mlops_bp_was_installed(monkeypatch, direct_url, requirement, reproducible):
    monkeypatch.setattr(sb, "distribution", lambda name: _Dist(direct_url))
    found = sb.installed_stack_builder()
    assert (found.requirement, found.reproducible) == (requirement, reproducible)


@pytest.mark.parametrize(
    "requirement",
    ["mlops-bp==0.2.0", "mlops-bp @ git+https://github.com/acme/mlops-bp@0123abcd", "mlops_bp>=0.2"],
)
def test_an_explicit_choice_is_used(requirement):
    assert sb.stack_builder(requirement).requirement == requirement


@pytest.mark.parametrize("requirement", ["requests==1", "mlops-bp", "mlops-bp==0.2\n--index-url http://evil", ""])
def test_an_explicit_choice_must_name_mlops_bp_and_a_version_or_url(requirement):
    with pytest.raises(UserError, match=r"^stack-builder: must be a requirement for mlops-bp"):
        sb.stack_builder(requirement)


def test_the_repo_records_and_installs_the_choice(tmp_path):
    choice = sb.stack_builder("mlops-bp @ git+https://github.com/acme/mlops-bp@0123abcd")
    render_tree(make_blueprint(2), "github", tmp_path, choice)
    assert choice.requirement in (tmp_path / "infra/requirements.txt").read_text().splitlines()
    assert json.loads((tmp_path / ".mlops-bp.json").read_text())["stack_builder"] == choice.requirement
