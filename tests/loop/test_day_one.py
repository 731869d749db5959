"""Day one: a fresh account's first `pulumi up` references nothing that nothing produced.

No image (CI pushes them later), no model package (training and approval come later), no
baseline file (the pipeline writes it) may appear in any input of a day-one graph; after the
first deploy they appear, and only as what the deploy pinned.
"""

from __future__ import annotations

import json
import re

import pytest

from mlops_bp.stacks.plan import deployed, plan

from ..conftest import make_blueprint

ECR_IMAGE = re.compile(r"\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com/[a-z0-9._/-]+[:@]")
MODEL_MONITOR_IMAGE = re.compile(r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com/sagemaker-model-monitor-analyzer")
PRODUCED_LATER = {
    "an image CI pushes": ECR_IMAGE,
    "a model package approval makes": re.compile(r":model-package/"),
    "a baseline the pipeline writes": re.compile(r"(statistics|constraints)\.json"),
}


def _strings(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, str):
        if value.lstrip().startswith(("{", "[")):
            try:
                yield from _strings(json.loads(value))
                return
            except ValueError:
                pass
        yield value


def _references(graph):
    found = []
    for res in graph.custom:
        for text in _strings(res.inputs):
            if MODEL_MONITOR_IMAGE.match(text):
                continue  # AWS publishes the analyzer image in each region (it is not ours to push)
            if "*" in text:
                continue  # a permission's resource pattern, not a reference to one thing
            for what, pattern in PRODUCED_LATER.items():
                if res.type == "aws:sagemaker/pipeline:Pipeline" and what.startswith("a baseline"):
                    continue  # written by the run's own Preprocess step before RegisterModel reads it
                if pattern.search(text):
                    found.append(f"{res.type} {res.name}: {what}: {text[:120]}")
    return found


CASES = [
    (level, env, platform)
    for platform in ("sagemaker",)
    for level in range(5)
    for env in (("dev",) if level < 3 else ("dev", "staging", "prod"))
]


@pytest.mark.parametrize(("level", "env", "platform"), CASES)
def test_a_fresh_stack_references_nothing_produced_later(level, env, platform):
    blueprint = make_blueprint(level, platform)
    assert _references(plan(blueprint, env)) == []


def test_pipeline_definition_on_day_one_names_no_image():
    """The pipeline exists from level 2, but its image parameters have no defaults until a
    deploy pins a commit: every run names its images (the train workflow passes them)."""
    blueprint = make_blueprint(2)
    pipeline = plan(blueprint).one("aws:sagemaker/pipeline:Pipeline")
    parameters = {p["Name"]: p for p in json.loads(pipeline.inputs["pipelineDefinition"])["Parameters"]}
    assert "DefaultValue" not in parameters["TrainingImage"] and "DefaultValue" not in parameters["ServingImage"]


@pytest.mark.parametrize("level", [1, 2, 4])
def test_after_the_first_deploy_only_pinned_things_are_referenced(level):
    blueprint = make_blueprint(level)
    pinned = deployed(blueprint)
    env = "prod" if level >= 3 else "dev"
    references = _references(plan(blueprint, env, pinned))
    assert references  # the scan finds what a deploy pins (so an empty day-one scan means something)
    for reference in references:
        assert (
            pinned.image_tag in reference or pinned.model_package_arn in reference or pinned.baseline_uri in reference
        ), reference
