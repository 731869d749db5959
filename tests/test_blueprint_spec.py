"""The blueprint spec: validation, level catalog, defaults, mlops-bp.yaml round trip, schema."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from mlops_bp.blueprints import (
    FEATURES,
    LEVELS,
    Blueprint,
    BlueprintError,
    EndpointMode,
    UserError,
    blueprint_from_data,
    dump_blueprint,
    features_at,
    json_schema,
    load_blueprint,
    save_blueprint,
)
from mlops_bp.blueprints.catalog import FIELD_FEATURE, feature_level


def bp(**data) -> Blueprint:
    return blueprint_from_data({"name": "fraud-detect", "level": 1, **data})


@pytest.mark.parametrize("name", ["abd", "fraud-detect", "a1-b2-c3", "x" * 32, "lives9", "match"])
def test_valid_names(name):
    assert bp(name=name).name == name


@pytest.mark.parametrize(
    "name",
    [
        "My_Project",
        "a",
        "ab",
        "../etc",
        "x" * 41,
        "x" * 64,
        "-abc",
        "abc-",
        "a..b",
        "a--b",
        "UPPER",
        "has space",
        "a/b",
    ],
)
def test_invalid_names_name_the_field(name):
    with pytest.raises(BlueprintError) as err:
        bp(name=name)
    assert str(err.value).startswith("name: ")
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("level", [5, -1, "three", True, 2.5, None])
def test_invalid_levels(level):
    with pytest.raises(BlueprintError, match=r"^level: must be one of 0, 1, 2, 3, 4"):
        blueprint_from_data({"name": "abd", "level": level})


def test_unknown_region_and_unknown_key():
    with pytest.raises(BlueprintError, match=r"^region: unknown AWS region"):
        bp(region="us-east-9")
    with pytest.raises(BlueprintError, match=r"^trainig: unknown key"):
        bp(trainig={})
    with pytest.raises(BlueprintError, match=r"^serving\.imagetag: unknown key"):
        bp(serving={"imagetag": "1"})


def test_environments_default_per_level():
    assert [e.name for e in bp(level=0).environments] == ["dev"]
    assert [e.name for e in bp(level=2).environments] == ["dev"]
    level3 = bp(level=3)
    assert [e.name for e in level3.environments] == ["dev", "staging", "prod"]
    assert [e.endpoint for e in level3.environments] == [
        EndpointMode.SERVERLESS,
        EndpointMode.SERVERLESS,  # staging scales to zero between deploys
        EndpointMode.REALTIME,
    ]
    assert level3.environment("prod").requires_approval


def test_explicit_environments_win_and_are_checked():
    custom = bp(level=3, environments=[{"name": "qa"}, {"name": "live", "endpoint": "realtime"}])
    assert [e.name for e in custom.environments] == ["qa", "live"]
    with pytest.raises(BlueprintError, match="real-time endpoints need level 3"):
        bp(level=2, environments=[{"name": "dev", "endpoint": "realtime"}])
    with pytest.raises(BlueprintError, match="names must be unique"):
        bp(environments=[{"name": "dev"}, {"name": "dev"}])


def test_unknown_environment_is_a_user_error():
    with pytest.raises(UserError, match="environment: 'prod' is not in this blueprint"):
        bp().environment("prod")


def test_features_are_cumulative_and_come_from_the_catalog():
    for level in range(4):
        assert features_at(level) < features_at(level + 1)
    assert "notebook" in features_at(0)
    assert "endpoint" not in features_at(0) and "endpoint" in features_at(1)
    assert "training_pipeline" in features_at(2) and "training_pipeline" not in features_at(1)
    assert {"blue_green", "ab_variants", "deploy_on_approval"} <= features_at(3)
    assert {"data_capture", "model_monitor", "drift_retraining", "autoscaling", "dashboard"} <= features_at(
        4
    ) - features_at(3)
    assert [level.number for level in LEVELS] == [0, 1, 2, 3, 4]
    assert {f.capability for f in FEATURES} == {"storage", "registry", "training", "serving", "monitoring", "iam"}


@pytest.mark.parametrize(
    ("path", "min_level"), sorted((path, feature_level(feature)) for path, feature in FIELD_FEATURE.items())
)
def test_overrides_that_need_a_higher_level_say_which(path, min_level):
    if min_level == 0:
        pytest.skip("available at every level")
    section, _, key = path.partition(".")
    values = {
        "registry": {"keep_last_images": 7},
        "training": {"use_spot": True},
        "serving.variants": [{"name": "a", "weight": 0.5}, {"name": "b", "weight": 0.5}],
        "serving.serverless_memory_mb": 4096,
        "serving.serverless_max_concurrency": 9,
        "serving.image_tag": "2.0.0",
        "serving.instance_type": "ml.c5.xlarge",
        "serving.instance_count": 3,
        "serving.min_capacity": 2,
        "serving.max_capacity": 9,
        "serving.target_invocations_per_instance": 50,
        "serving.data_capture_percent": 20,
        "monitoring.log_retention_days": 90,
        "monitoring.latency_threshold_ms": 50,
        "monitoring.error_5xx_threshold": 2,
        "monitoring.alarm_email": "ops@example.com",
        "monitoring.drift_threshold": 0.5,
        "monitoring.monitor_schedule": "cron(0 6 ? * * *)",
    }
    data = {section: values[path]} if not key else {section: {key: values[path]}}
    with pytest.raises(
        BlueprintError, match=rf"{path}: needs level {min_level} or higher \(blueprint is level {min_level - 1}\)"
    ):
        blueprint_from_data({"name": "abd", "level": min_level - 1, **data})
    assert blueprint_from_data({"name": "abd", "level": min_level, **data})


def test_setting_checks():
    with pytest.raises(BlueprintError, match="variant weights must add up to 1"):
        bp(level=3, serving={"variants": [{"name": "a", "weight": 0.5}, {"name": "b", "weight": 0.2}]})
    with pytest.raises(BlueprintError, match=r"serving\.image_tag: must be a pinned tag"):
        bp(serving={"image_tag": "latest"})
    with pytest.raises(BlueprintError, match=r"training\.schedule: must be cron"):
        bp(level=2, training={"schedule": "every monday"})
    with pytest.raises(BlueprintError, match=r"github: must be OWNER/REPO"):
        bp(github="not a repo")
    with pytest.raises(BlueprintError, match=r"gitlab: must be GROUP/PROJECT"):
        bp(gitlab="just-a-group")
    with pytest.raises(BlueprintError, match=r"^github, gitlab: set one CI system"):
        bp(github="acme/x", gitlab="acme/x")
    assert bp(gitlab="acme/ml/x").ci_repository == "acme/ml/x"
    with pytest.raises(BlueprintError, match=r"network\.subnet_ids\[0\]: must be subnet ids"):
        bp(network={"subnet_ids": ["vpc-1"], "security_group_ids": ["sg-0123abcd"]})


def test_with_level_keeps_user_settings_and_follows_level_defaults():
    two = bp(level=2, training={"use_spot": True}, github="acme/fraud-detect")
    three = two.with_level(3)
    assert three.level == 3 and three.training.use_spot and three.github == "acme/fraud-detect"
    assert [e.name for e in three.environments] == ["dev", "staging", "prod"]
    assert [e.name for e in three.with_level(2).environments] == ["dev"]
    custom = bp(level=3, environments=[{"name": "qa"}])
    assert [e.name for e in custom.with_level(4).environments] == ["qa"]


def test_yaml_round_trip_is_stable(tmp_path):
    original = bp(level=3, github="acme/fraud-detect", tags={"team": "risk"}, training={"use_spot": True})
    path = tmp_path / "mlops-bp.yaml"
    save_blueprint(original, path)
    text = path.read_text()
    assert text.startswith("# yaml-language-server: $schema=mlops-bp.schema.json\n")
    loaded = load_blueprint(path)
    assert loaded == original
    assert dump_blueprint(loaded) == text


def test_load_errors_are_one_line(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(UserError, match="does not exist"):
        load_blueprint(missing)
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(BlueprintError, match=r"not valid YAML at line"):
        load_blueprint(bad)
    listy = tmp_path / "list.yaml"
    listy.write_text("- 1\n- 2\n")
    with pytest.raises(BlueprintError, match="expected a mapping"):
        load_blueprint(listy)
    extra = tmp_path / "extra.yaml"
    extra.write_text(yaml.safe_dump({"name": "abd", "level": 1, "colour": "blue"}))
    with pytest.raises(BlueprintError, match=rf"^{extra}: colour: unknown key"):
        load_blueprint(extra)


def test_overrides_win_over_the_file(tmp_path):
    path = tmp_path / "mlops-bp.yaml"
    save_blueprint(bp(level=1), path)
    assert load_blueprint(path, overrides={"level": 2, "name": None}).level == 2


def test_json_schema_is_generated_from_the_models():
    schema = json.loads(json_schema())
    assert schema["title"] == "mlops-bp blueprint"
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) == set(Blueprint.model_fields)
    assert schema["properties"]["name"]["pattern"]
    assert "level" in schema["required"] and "name" in schema["required"]


def test_blueprints_package_imports_no_pulumi_or_typer():
    import subprocess
    import sys

    code = (
        "import sys, mlops_bp.blueprints; print(sorted(m for m in sys.modules"
        " if m.split('.')[0] in {'pulumi','pulumi_aws','typer','mlops_bp.stacks'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_every_public_name_resolves_lazily():
    import mlops_bp.blueprints as package

    assert sorted(package.__all__) == sorted(package._EXPORTS)
    for name in package.__all__:
        assert getattr(package, name) is not None
    with pytest.raises(AttributeError):
        package.NoSuchName  # noqa: B018


def test_name_and_environment_must_leave_room_for_aws_names():
    # <name>-<env> starts every physical name; IAM role names (64, Pulumi adds 8) bound it.
    assert bp(name="x" * 32)  # x...x-dev: 36 characters, the SageMaker limit
    with pytest.raises(BlueprintError, match=r"^name, environments: 'x{33}-dev' is 37 characters; on sagemaker"):
        bp(name="x" * 33)
    with pytest.raises(BlueprintError, match=r"'x{29}-staging' is 37 characters"):
        bp(name="x" * 29, level=3)
    with pytest.raises(BlueprintError, match=r"on kubernetes '<name>-<environment>' may have at most 29"):
        bp(name="x" * 26, platform="kubernetes")


@pytest.mark.parametrize(
    ("schedule", "hours"),
    [("cron(0 0 ? * * *)", 24), ("cron(0 * ? * * *)", 1), ("cron(0 6 ? * * *)", 24), ("cron(0 0/6 ? * * *)", 6)],
)
def test_monitor_schedules_model_monitor_accepts(schedule, hours):
    assert bp(level=4, monitoring={"monitor_schedule": schedule}).monitoring.interval_hours == hours


@pytest.mark.parametrize("schedule", ["cron(*/5 * ? * * *)", "cron(0 0 1 * ? *)", "rate(1 day)", "cron(0 25 ? * * *)"])
def test_monitor_schedules_model_monitor_refuses(schedule):
    with pytest.raises(BlueprintError, match=r"^monitoring.monitor_schedule: must be hourly"):
        bp(level=4, monitoring={"monitor_schedule": schedule})


def test_blue_green_rollback_alarms_fit_the_api_limit():
    six = [{"name": f"v{i}", "weight": 1 / 6} for i in range(6)]
    with pytest.raises(BlueprintError, match=r"^serving.variants: "):
        bp(level=3, serving={"variants": six})


@pytest.mark.parametrize(
    ("section", "value", "message"),
    [
        (
            "training",
            "ml.t2.medium",
            "training.instance_type: ml.t2.medium is not an instance type SageMaker offers for training jobs",
        ),
        (
            "serving",
            "ml.x9.huge",
            "serving.instance_type: ml.x9.huge is not an instance type SageMaker offers for real-time endpoints",
        ),
        (
            "notebook",
            "ml.m5.large",
            "notebook.instance_type: ml.m5.large is not an instance type SageMaker offers for notebook",
        ),
    ],
)
def test_instance_types_are_ones_the_api_accepts_for_their_use(section, value, message):
    with pytest.raises(BlueprintError, match=rf"^{re.escape(message)}"):
        bp(level=3, **{section: {"instance_type": value}})


def test_instance_types_do_not_bind_the_kubernetes_platform():
    assert bp(level=3, platform="kubernetes", name="abd", training={"instance_type": "ml.t2.medium"})


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("9lives", "must start with a letter: it names the Python package '9lives'"),
        ("class", "'class' is a Python keyword"),
        ("json", "the repo's Python package 'json' would hide Python's own module"),
        ("flask", "'flask' is a package the generated repo depends on"),
        ("scikit-learn", "'scikit-learn' is a package the generated repo depends on"),
        ("numpy", "'numpy' is a package the generated repo depends on"),
        ("pytest", "'pytest' is a package the generated repo depends on"),
    ],
)
def test_names_the_generated_repo_cannot_take_say_why(name, reason):
    with pytest.raises(BlueprintError, match=rf"^name: {re.escape(reason)}"):
        bp(name=name)


def test_the_quality_gate_metric_is_one_the_repo_computes():
    with pytest.raises(BlueprintError, match=r"^training.metric_name: Input should be 'accuracy', 'f1'"):
        bp(level=2, training={"metric_name": "auc"})


def test_environment_accounts_are_all_or_none_and_twelve_digits():
    envs = [{"name": "dev", "account": "111111111111"}, {"name": "prod", "account": "222222222222"}]
    blueprint = bp(level=3, environments=envs)
    assert blueprint.cross_account and blueprint.environment("prod").account == "222222222222"
    assert not bp(level=3).cross_account
    with pytest.raises(BlueprintError, match="set account on every environment or on none"):
        bp(level=3, environments=[envs[0], {"name": "prod"}])
    with pytest.raises(BlueprintError, match="account"):
        bp(level=3, environments=[{"name": "dev", "account": "1234"}])
    provider = "arn:aws:iam::999999999999:oidc-provider/token.actions.githubusercontent.com"
    with pytest.raises(BlueprintError, match="oidc_provider_arn: names account 999999999999"):
        bp(level=3, environments=envs, oidc_provider_arn=provider)
    # The accounts survive a round trip through mlops-bp.yaml and a level change.
    assert blueprint.with_level(4).environment("prod").account == "222222222222"
    assert "account" not in dump_blueprint(bp(level=3))


# --- the Blueprint's rules, each a pure function tested on its own -------------------------

RULE_CASES = {
    # rule -> (a blueprint it accepts, settings it refuses, what the refusal names)
    "environments_error": (
        {},
        {"environments": [{"name": "dev"}, {"name": "dev"}]},
        "environments: names must be unique",
    ),
    "level_settings_error": (
        {"level": 2, "training": {"use_spot": True}},
        {"training": {"use_spot": True}},
        "training: needs level 2",
    ),
    "single_ci_system_error": (
        {"github": "a/b"},
        {"github": "a/b", "gitlab": "a/b"},
        "github, gitlab: set one CI system",
    ),
    "kubernetes_variants_error": (
        {
            "level": 3,
            "platform": "kubernetes",
            "serving": {"variants": [{"name": "a", "weight": 0.9}, {"name": "b", "weight": 0.1}]},
        },
        {
            "level": 3,
            "platform": "kubernetes",
            "serving": {"variants": [{"name": "a", "weight": 0.996}, {"name": "b", "weight": 0.004}]},
        },
        "serving.variants: on kubernetes every variant needs at least 1%",
    ),
    "instance_types_error": (
        {"level": 3},
        {"level": 3, "serving": {"instance_type": "ml.t3.nano"}},
        "serving.instance_type:",
    ),
    "name_length_error": ({"name": "x" * 32}, {"name": "x" * 33}, "name, environments:"),
    "model_monitor_region_error": (
        {"level": 4, "region": "il-central-1"},
        {"level": 4, "region": "ca-west-1"},
        "nearby regions that offer it: ca-central-1",
    ),
    "kubernetes_cluster_error": (
        {
            "platform": "kubernetes",
            "kubernetes": {"cluster": {"create": True, "subnet_ids": ["subnet-0123abcd", "subnet-0456abcd"]}},
        },
        {"platform": "kubernetes", "kubernetes": {"cluster": {"create": True, "subnet_ids": ["subnet-0123abcd"]}}},
        "kubernetes.cluster.subnet_ids: kubernetes.cluster.create needs subnets in at least two",
    ),
    "kubernetes_schedules_error": (
        {"level": 2, "platform": "kubernetes", "training": {"schedule": "rate(15 minutes)"}},
        {"level": 2, "platform": "kubernetes", "training": {"schedule": "rate(7 minutes)"}},
        "training.schedule: rate(7 minutes) has no cron equivalent",
    ),
}


@pytest.mark.parametrize("rule", list(RULE_CASES))
def test_each_blueprint_rule_on_its_own(rule, monkeypatch):
    from mlops_bp.blueprints import models, validators

    check = getattr(validators, rule)
    accepted, refused, message = RULE_CASES[rule]
    assert check(bp(**accepted)) is None
    with pytest.raises(BlueprintError, match=re.escape(message)):
        bp(**refused)
    # The refused settings, built with no rule run, then judged by this rule alone.
    with monkeypatch.context() as patched:
        patched.setattr(models, "BLUEPRINT_RULES", ())
        unchecked = bp(**refused)
    assert message in (check(unchecked) or "")


def test_every_rule_is_run_and_tested():
    from mlops_bp.blueprints.validators import BLUEPRINT_RULES

    assert {rule.__name__ for rule in BLUEPRINT_RULES} == set(RULE_CASES)


@pytest.mark.parametrize(
    ("expression", "cron"),
    [
        ("cron(0 3 ? * MON *)", "0 3 * * 1"),
        ("cron(0 * ? * * *)", "0 * * * *"),
        ("cron(30 2 ? * 2-6 *)", "30 2 * * 1-5"),
        ("cron(0 0 1 * ? *)", "0 0 1 * *"),
        ("rate(15 minutes)", "*/15 * * * *"),
        ("rate(6 hours)", "0 */6 * * *"),
        ("rate(1 day)", "0 0 * * *"),
    ],
)
def test_schedules_as_five_field_cron(expression, cron):
    from mlops_bp.blueprints.schedules import five_field_cron, five_field_cron_error

    assert five_field_cron(expression) == cron and five_field_cron_error(expression) is None


@pytest.mark.parametrize(
    "expression", ["cron(0 3 ? * MON 2027)", "cron(0 3 L * ? *)", "rate(7 minutes)", "rate(3 days)", "daily"]
)
def test_schedules_without_a_five_field_cron(expression):
    from mlops_bp.blueprints.schedules import five_field_cron_error

    assert five_field_cron_error(expression)


def test_did_you_mean():
    with pytest.raises(BlueprintError, match=r"^region: unknown AWS region 'eu-wset-1'; did you mean eu-west-1\?$"):
        bp(region="eu-wset-1")
    with pytest.raises(BlueprintError, match=r"^trainnig: unknown key; did you mean training\?"):
        bp(level=2, trainnig={})
    with pytest.raises(BlueprintError, match=r"^serving.imge_tag: unknown key; did you mean image_tag\?"):
        bp(serving={"imge_tag": "1"})
    with pytest.raises(UserError, match=r"did you mean staging\?$"):
        bp(level=3).environment("stagin")
    with pytest.raises(BlueprintError) as far:
        bp(region="mars")
    assert "did you mean" not in str(far.value) and "commercial regions" in str(far.value)


def test_a_level_override_moves_the_blueprint_as_with_level_does(tmp_path):
    from mlops_bp.blueprints.io import apply_overrides

    path = tmp_path / "mlops-bp.yaml"
    save_blueprint(bp(level=2, region="eu-west-1"), path)
    moved = load_blueprint(path, overrides={"level": 3, "name": None})
    assert moved == bp(level=2, region="eu-west-1").with_level(3)
    assert [e.name for e in moved.environments] == ["dev", "staging", "prod"]
    own = apply_overrides({"level": 2, "environments": [{"name": "lab"}]}, {"level": 3})
    assert own["environments"] == [{"name": "lab"}]  # environments the user chose stay


def test_the_ci_system_of_a_repo_is_judged_by_the_blueprint():
    assert bp(github="a/b").check_ci("github") is None
    with pytest.raises(BlueprintError, match="GitLab repo's pipelines cannot use a GitHub trust"):
        bp(github="a/b").check_ci("gitlab")
    with pytest.raises(BlueprintError, match="ci: must be one of github, gitlab"):
        bp().check_ci("jenkins")
