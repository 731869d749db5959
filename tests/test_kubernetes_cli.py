"""`mlops-bp plan` on the kubernetes platform works offline, like the SageMaker plan."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from mlops_bp.cli.app import app

runner = CliRunner()


def test_plan_kubernetes_level4():
    result = runner.invoke(app, ["plan", "--platform", "kubernetes", "--level", "4", "--github", "acme/fraud-detect"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "level 4 on kubernetes" in out
    for expected in (
        "kubernetes:helm.sh/v3:Release",
        "kubernetes:monitoring.coreos.com/v1:PrometheusRule",
        "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
        "aws:ecr:Repository",  # type tokens as `pulumi preview` shows them
    ):
        assert expected in out


def test_plan_kubernetes_json_lists_the_objects():
    result = runner.invoke(app, ["plan", "--platform", "kubernetes", "--level", "2", "--json"])
    assert result.exit_code == 0, result.output
    types = {r["type"] for r in json.loads(result.stdout)["resources"]}
    assert {
        "kubernetes:batch/v1:CronJob",
        "kubernetes:core/v1:PersistentVolumeClaim",
        "pulumi:providers:kubernetes",
    } <= types


def test_plan_kubernetes_bad_setting_is_one_line_exit_2(tmp_path):
    config = tmp_path / "mlops-bp.yaml"
    config.write_text("name: team-a\nlevel: 2\nplatform: kubernetes\ntraining:\n  schedule: rate(7 minutes)\n")
    result = runner.invoke(app, ["plan", "--config", str(config)])
    assert result.exit_code == 2
    assert "training.schedule: rate(7 minutes) has no cron equivalent" in result.output
    assert "Traceback" not in result.output
