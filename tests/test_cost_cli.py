"""`mlops-bp cost` through CliRunner: tables, JSON, --compare and usage-file errors."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from mlops_bp.cli.app import app
from mlops_bp.stacks.cost import estimate_blueprint
from tests.conftest import make_blueprint

runner = CliRunner()


def _run(*args: str):
    return runner.invoke(app, ["cost", *args])


def test_cost_table_shows_idle_and_usage_totals():
    result = _run("--level", "1", "--name", "fraud-detect")
    assert result.exit_code == 0, result.output
    expected = estimate_blueprint(make_blueprint(1, github=None))
    assert f"idle ${expected.idle_total:,.2f}, at usage ${expected.usage_total:,.2f}" in result.output
    assert "kms-key" in result.output and "data-bucket" in result.output
    assert "free (" in result.output


def test_cost_json_matches_the_library():
    result = _run("--level", "2", "--name", "fraud-detect", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    expected = estimate_blueprint(make_blueprint(2, github=None))
    assert (data["idle_total"], data["usage_total"]) == (expected.idle_total, expected.usage_total)
    assert data["unpriced"] == []
    line = next(line for line in data["lines"] if line["type"] == "aws:kms/key:Key" and line["unit"] == "key-month")
    assert (line["unit_price"], line["idle_quantity"], line["source"]) == (
        1.0,
        1.0,
        "https://aws.amazon.com/kms/pricing/",
    )


def test_usage_file_changes_the_usage_column(tmp_path):
    usage = tmp_path / "usage.yaml"
    usage.write_text("notebook:\n  hours_per_month: 140\n", encoding="utf-8")
    base = json.loads(_run("--level", "0", "--json").output)
    more = json.loads(_run("--level", "0", "--json", "--usage", str(usage)).output)
    assert more["idle_total"] == base["idle_total"]
    # 100 more notebook hours on ml.t3.medium at $0.05
    assert round(more["usage_total"] - base["usage_total"], 2) == 5.00


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("inference:\n  requests_per_month: lots\n", "inference.requests_per_month"),
        ("inference:\n  requsts: 5\n", "inference.requsts: unknown key"),
        ("notebook:\n  hours_per_month: -1\n", "notebook.hours_per_month"),
        ("training:\n  instance_type: m5.large\n", "training.instance_type"),
        ("- a list\n", "expected a mapping"),
        ("inference: [unclosed\n", "not valid YAML"),
    ],
)
def test_usage_file_errors_exit_2_with_one_line(tmp_path, content, message):
    usage = tmp_path / "usage.yaml"
    usage.write_text(content, encoding="utf-8")
    result = _run("--level", "1", "--usage", str(usage))
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_missing_usage_file_exits_2(tmp_path):
    result = _run("--level", "1", "--usage", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_compare_shows_all_five_levels():
    result = _run("--level", "2", "--compare")
    assert result.exit_code == 0, result.output
    for level in range(5):
        assert f"level {level}" in result.output
    assert "total" in result.output and "unpriced" in result.output


def test_compare_json_has_every_level_and_grows_with_the_level():
    data = json.loads(_run("--level", "0", "--compare", "--json").output)
    levels = data["levels"]
    assert [entry["level"] for entry in levels] == [0, 1, 2, 3, 4]
    idle = [entry["idle_total"] for entry in levels]
    assert idle == sorted(idle)


def test_compare_names_levels_a_blueprint_is_not_valid_at():
    # real-time serving settings need level 3: levels 0-2 say so instead of a number
    result = _run("--level", "3", "--compare", "--json", "--name", "fraud-detect")
    assert result.exit_code == 0
    assert all(entry["error"] is None for entry in json.loads(result.output)["levels"])
    from mlops_bp.stacks.cost import compare_levels

    results = compare_levels(make_blueprint(3, serving={"instance_type": "ml.c5.large"}))
    assert [r.estimate is None for r in results] == [True, True, True, False, False]
    assert "level 3" in results[0].error


def test_cost_help():
    result = runner.invoke(app, ["cost", "--help"])
    assert result.exit_code == 0
    assert "--usage" in result.output and "--compare" in result.output
