"""What users read: `plan`, `cost`, `cost --compare` and `diff` at 80 columns (structure, not
bytes: values change with the stacks), plain numbers, no stand-in values, every caveat in text as
in JSON, help texts, shell completion and `schema --usage`."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from mlops_bp.cli.app import app
from mlops_bp.cli.display import plain_number, short_type, shown_value
from mlops_bp.cli.errors import err_console, out_console

WIDTH = 80


@pytest.fixture
def run(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no ./mlops-bp.yaml
    monkeypatch.setattr(out_console, "width", WIDTH)
    monkeypatch.setattr(err_console, "width", WIDTH)
    runner = CliRunner()

    def invoke(*args: str):
        result = runner.invoke(app, list(args), env={"COLUMNS": str(WIDTH)})
        assert result.exit_code in (0, 1), result.output
        return result

    return invoke


def _within(lines: list[str]) -> None:
    too_wide = [line for line in lines if len(line) > WIDTH]
    assert not too_wide, too_wide


def _json(run, *args: str) -> dict:
    return json.loads(run(*args, "--json").stdout)


def test_plan_tree_fits_80_columns_with_whole_type_names(run):
    args = ("plan", "--level", "4", "--platform", "kubernetes", "--github", "acme/fraud-detect", "--deployed")
    text = run(*args).stdout
    graph = _json(run, *args)
    lines = text.splitlines()
    assert re.fullmatch(r"mlops-demo level 4 on kubernetes, environment dev, us-east-1: \d+ resources", lines[0])
    tree = lines[1 : next(i for i, line in enumerate(lines) if line.startswith("stack outputs:"))]
    _within(tree)
    branches = [line for line in tree if re.fullmatch(r"[├└]── \w+ \(\d+\)", line)]
    assert [b.split()[1] for b in branches] == ["storage", "registry", "training", "serving", "monitoring", "iam"]
    leaves: list[str] = []
    for line in tree:
        if line in branches:
            continue
        if "── " in line:
            leaves.append(line.split("── ", 1)[1])
        else:  # a type too long for one line continues below its module
            assert leaves[-1].endswith(":"), line
            leaves[-1] += line.strip(" │")
    leaves = {re.sub(r" x\d+$", "", leaf) for leaf in leaves}
    custom = {r["type"] for r in graph["resources"] if not r["type"].startswith(("pulumi:providers:", "mlopsbp:"))}
    assert leaves == {short_type(t) for t in custom}  # every type, none cut
    assert "aws:iam:Role" in leaves and "kubernetes:networking.k8s.io/v1:NetworkPolicy" in leaves


def test_cost_table_fits_80_columns_and_splits_no_name(run):
    args = ("cost", "--level", "4", "--name", "fraud-detect", "--env", "prod")
    text = run(*args).stdout
    data = _json(run, *args)
    table = text[text.index("environment prod") : text.index("total per month")].splitlines()
    _within(table)
    cells = [line[: -len("$0.00   $0.00")].strip() for line in table if line.startswith(" ")]
    names = {line["resource"].removeprefix("fraud-detect-prod-") for line in data["lines"]}
    assert names <= set(cells)  # each resource name whole, on a row of its own
    amounts = [line for line in table if re.search(r"(\$[\d,]+\.\d\d|-)\s+\$[\d,]+\.\d\d\s*$", line)]
    assert len(amounts) == len(data["lines"])  # one row per charge (a long charge wraps at spaces below)
    assert "e-0" not in text and "e+0" not in text  # plain numbers
    assert re.search(r"total per month: idle \$[\d,.]+, at usage \$[\d,.]+", text)


def test_cost_compare_fits_80_columns_and_needs_no_level(run):
    text = run("cost", "--compare", "--platform", "kubernetes").stdout
    table = text[: text.index("note: ")].splitlines()
    _within(table)
    header = next(line for line in table if "level 0" in line)
    assert re.findall(r"level (\d)", header) == ["0", "1", "2", "3", "4"]
    total = table.index(next(line for line in table if line.strip().startswith("total")))
    assert len(re.findall(r"\$[\d,]+\.\d\d", table[total] + table[total + 1])) == 10  # idle, at usage
    # The caveat of the Kubernetes estimate is said in text, as in JSON.
    levels = _json(run, "cost", "--compare", "--platform", "kubernetes")["levels"]
    caveats = {c for level in levels for c in level["caveats"]}
    assert caveats and all(f"note: {c}." in " ".join(text.split()) for c in caveats)


def test_diff_fits_80_columns_and_shows_no_stand_ins(run):
    text = run("diff", "--from", "1", "--to", "4", "--platform", "kubernetes").stdout
    lines = text.splitlines()
    assert lines[0] == "mlops-demo on kubernetes: level 1 -> 4"
    resources = [line for line in lines if re.match(r"^  [+~-]{1,2} ", line)]
    _within(resources)
    assert resources and all(":" in line.split()[1] for line in resources)  # a whole type token
    for line in lines:
        if line.startswith("        ") and line.strip()[:1] in "+-":  # old and new on lines of their own
            assert len(line) <= WIDTH
    assert "mock" not in text.lower() and "123456789012" not in text
    assert "<name of mlops-demo-dev-artifacts-bucket>" in text and "5000.0" not in text
    doc = json.dumps(_json(run, "diff", "--from", "1", "--to", "4", "--platform", "kubernetes"))
    assert "-mock" not in doc and "123456789012" not in doc


@pytest.mark.parametrize(
    ("value", "shown"),
    [(4.345e-06, "0.000004345"), (10.737418, "10.74"), (5, "5"), (1234.5, "1,234"), (0, "0"), (0.1, "0.1")],
)
def test_plain_numbers(value, shown):
    assert plain_number(value) == shown


@pytest.mark.parametrize(
    ("token", "shown"),
    [
        ("aws:s3/bucket:Bucket", "aws:s3:Bucket"),
        (
            "aws:sagemaker/notebookInstanceLifecycleConfiguration:NotebookInstanceLifecycleConfiguration",
            "aws:sagemaker:NotebookInstanceLifecycleConfiguration",
        ),
        ("kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:Deployment"),
        ("pulumi:providers:aws", "pulumi:providers:aws"),
    ],
)
def test_type_tokens_as_pulumi_preview_shows_them(token, shown):
    assert short_type(token) == shown


def test_stand_in_values_are_named_for_what_they_stand_for():
    assert shown_value("arn:aws:s3:::acme-dev-data-bucket-mock/*") == "arn:aws:s3:::<name of acme-dev-data-bucket>/*"
    assert shown_value("arn:aws:iam::123456789012:role/x") == "arn:aws:iam::<account id>:role/x"
    assert shown_value({"port": 5000.0}) == '{"port": 5000}'
    assert shown_value(None) == "(none)"


@pytest.mark.parametrize("command", ["plan", "init", "cost", "diff", "doctor", "schema", "upgrade"])
def test_help_shows_no_bool_types(command):
    result = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "100"})
    assert result.exit_code == 0
    assert "<bool>" not in result.output and "<str>" not in result.output


def test_cost_help_says_what_env_and_usage_do():
    text = " ".join(CliRunner().invoke(app, ["cost", "--help"], env={"COLUMNS": "200"}).output.split())
    assert "default: every environment of the blueprint, added up" in text
    assert "mlops-bp schema --usage" in text


def test_shell_completion(monkeypatch):
    runner = CliRunner()
    root = runner.invoke(app, ["--help"], env={"COLUMNS": "200"}).output
    assert "--install-completion" in root and "--show-completion" in root
    script = runner.invoke(app, ["--show-completion", "bash"])
    assert script.exit_code == 0 and "_MLOPS_BP_COMPLETE" in script.output
    regions = runner.invoke(
        app,
        [],
        prog_name="mlops-bp",
        env={"_MLOPS_BP_COMPLETE": "complete_bash", "COMP_WORDS": "mlops-bp plan --region eu-w", "COMP_CWORD": "3"},
    )
    assert regions.output.split() == ["eu-west-1", "eu-west-2", "eu-west-3"]


def test_schema_usage_describes_the_usage_file():
    result = CliRunner().invoke(app, ["schema", "--usage"])
    schema = json.loads(result.stdout)
    assert schema["title"] == "mlops-bp cost usage file" and schema["required"] == []
    assert {"inference", "training", "notebook"} <= set(schema["properties"])
