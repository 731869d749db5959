"""A small local runner of a captured SageMaker pipeline definition, for the loop tier.

It plays SageMaker's part and nothing of ours: for each step of the definition it lays out
the container's directories the way SageMaker does (under a temporary root standing for `/`),
syncs inputs and outputs with S3 (a moto server) at the definition's own URIs, runs the
step's entry point from the generated repo (the definition's ContainerEntrypoint, or the
training image's ENTRYPOINT from train.Dockerfile through the repo's console scripts), packs
`/opt/ml/model` into `model.tar.gz` as SageMaker does, evaluates the condition on the
PropertyFile, and registers the model package the RegisterModel step describes (its arguments'
Std:JsonGet values, such as the customer metadata, read from the PropertyFile). Names, paths
and URIs all come from the definition and the repo; none is restated here.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OPT_ML = "/opt/ml"
GET_OUTPUT = re.compile(r"Steps\.(\w+)\.ProcessingOutputConfig\.Outputs\['(\w+)'\]\.S3Output\.S3Uri")


def split_s3(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


@dataclass
class PipelineRun:
    """One execution of `definition` against `s3` (a boto3 client), with the repo at `repo`."""

    definition: dict[str, Any]
    repo: Path
    workdir: Path
    s3: Any
    sagemaker: Any = None
    parameters: dict[str, str] = field(default_factory=dict)
    execution_id: str = "local-execution-1"
    outputs: dict[tuple[str, str], str] = field(default_factory=dict)
    model_artifacts: dict[str, str] = field(default_factory=dict)
    property_files: dict[str, dict[str, Any]] = field(default_factory=dict)
    registered: list[dict[str, Any]] = field(default_factory=list)
    described: list[dict[str, Any]] = field(default_factory=list)
    failed: str | None = None
    log: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        defaults = {p["Name"]: p.get("DefaultValue") for p in self.definition["Parameters"]}
        self.parameters = {**defaults, **self.parameters}

    # -- values -----------------------------------------------------------------------------
    def value(self, expr: Any) -> Any:
        if isinstance(expr, dict) and "Get" in expr:
            path = expr["Get"]
            if path.startswith("Parameters."):
                value = self.parameters[path.removeprefix("Parameters.")]
                if value is None:
                    raise RuntimeError(f"parameter {path} has no default and the run gave none")
                return value
            if path == "Execution.PipelineExecutionId":
                return self.execution_id
            if match := GET_OUTPUT.fullmatch(path):
                return self.outputs[(match[1], match[2])]
            if path.endswith(".ModelArtifacts.S3ModelArtifacts"):
                return self.model_artifacts[path.split(".")[1]]
            raise NotImplementedError(path)
        if isinstance(expr, dict) and "Std:Join" in expr:
            join = expr["Std:Join"]
            return join["On"].join(str(self.value(v)) for v in join["Values"])
        if isinstance(expr, dict) and "Std:JsonGet" in expr:
            spec = expr["Std:JsonGet"]
            step, name = spec["PropertyFile"]["Get"].split(".")[1], spec["PropertyFile"]["Get"].split(".")[-1]
            value: Any = self.property_files[f"{step}.{name}"]
            for part in spec["Path"].split("."):
                value = value[part]
            return value
        if isinstance(expr, dict):
            return {k: self.value(v) for k, v in expr.items()}
        if isinstance(expr, list):
            return [self.value(v) for v in expr]
        return expr

    # -- the container's file system ---------------------------------------------------------
    def local(self, path: str) -> Path:
        """Where a container path lives on this machine (`/opt/ml/...` under the work dir)."""
        assert path.startswith(OPT_ML), path
        return self.workdir / path.lstrip("/")

    def download(self, uri: str, target: Path) -> None:
        """S3Prefix semantics: every object under the prefix, relative to the prefix's folder."""
        bucket, prefix = split_s3(uri)
        found = 0
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                # A prefix naming one object gives that file; a folder, its relative paths.
                relative = obj["Key"][len(prefix) :].lstrip("/") or obj["Key"].rsplit("/", 1)[-1]
                destination = target / relative
                destination.parent.mkdir(parents=True, exist_ok=True)
                self.s3.download_file(bucket, obj["Key"], str(destination))
                found += 1
        if not found:
            raise RuntimeError(f"No S3 objects found under S3 URL {uri}")  # SageMaker's own failure

    def upload(self, source: Path, uri: str) -> None:
        bucket, prefix = split_s3(uri)
        for path in sorted(source.rglob("*")):
            if path.is_file():
                self.s3.upload_file(str(path), bucket, f"{prefix.rstrip('/')}/{path.relative_to(source).as_posix()}")

    def run_command(self, command: list[str], env: dict[str, str]) -> None:
        done = subprocess.run(
            command,
            cwd=self.repo,
            env={**os.environ, "PYTHONPATH": str(self.repo / "src"), **env},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        self.log.append(f"$ {' '.join(command)}\n{done.stdout}{done.stderr}")
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} exited {done.returncode}: {done.stderr[-2000:]}")

    def python(self, command: list[str]) -> list[str]:
        """`python ...` as the image runs it: this interpreter, paths mapped to the work dir."""
        mapped = [str(self.local(a)) if a.startswith(OPT_ML) else a for a in command]
        return [sys.executable, *mapped[1:]] if mapped[0] == "python" else mapped

    def console_script(self, dockerfile: str) -> list[str]:
        """The image's ENTRYPOINT (a console script of the repo's pyproject) as a command."""
        text = (self.repo / dockerfile).read_text(encoding="utf-8")
        entrypoint = json.loads(re.findall(r"^ENTRYPOINT (\[.*\])$", text, re.MULTILINE)[-1])
        scripts = tomllib.loads((self.repo / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
        module, function = scripts[entrypoint[0]].split(":")
        return [sys.executable, "-c", f"import sys; from {module} import {function}; sys.exit({function}())"]

    # -- steps ------------------------------------------------------------------------------
    def processing(self, step: dict[str, Any]) -> None:
        args = step["Arguments"]
        for item in args.get("ProcessingInputs", []):
            s3 = item["S3Input"]
            self.download(self.value(s3["S3Uri"]), self.local(s3["LocalPath"]))
        outputs = args["ProcessingOutputConfig"]["Outputs"]
        for item in outputs:
            self.local(item["S3Output"]["LocalPath"]).mkdir(parents=True, exist_ok=True)
        app = args["AppSpecification"]
        self.run_command(self.python([*app["ContainerEntrypoint"], *app.get("ContainerArguments", [])]), {})
        for item in outputs:
            uri = self.value(item["S3Output"]["S3Uri"])
            self.upload(self.local(item["S3Output"]["LocalPath"]), uri)
            self.outputs[(step["Name"], item["OutputName"])] = uri
        for prop in step.get("PropertyFiles", []):
            uri = self.outputs[(step["Name"], prop["OutputName"])]
            bucket, key = split_s3(f"{uri.rstrip('/')}/{prop['FilePath']}")
            report = json.loads(self.s3.get_object(Bucket=bucket, Key=key)["Body"].read())
            self.property_files[f"{step['Name']}.{prop['PropertyFileName']}"] = report

    def training(self, step: dict[str, Any]) -> None:
        args = step["Arguments"]
        root = self.workdir / "opt/ml"
        channels = []
        for channel in args["InputDataConfig"]:
            source = channel["DataSource"]["S3DataSource"]
            self.download(self.value(source["S3Uri"]), root / "input/data" / channel["ChannelName"])
            channels.append(channel)
        config = root / "input/config"
        config.mkdir(parents=True, exist_ok=True)
        (config / "hyperparameters.json").write_text(json.dumps(args.get("HyperParameters", {})), encoding="utf-8")
        input_config = {
            c["ChannelName"]: {"TrainingInputMode": "File", "ContentType": c.get("ContentType", "")} for c in channels
        }
        (config / "inputdataconfig.json").write_text(json.dumps(input_config), encoding="utf-8")
        (root / "model").mkdir(parents=True, exist_ok=True)
        (root / "output").mkdir(parents=True, exist_ok=True)
        self.run_command([*self.console_script("train.Dockerfile"), "train"], {"MLOPS_BP_OPT_ML": str(root)})
        archive = self.workdir / "model.tar.gz"
        with tarfile.open(archive, "w:gz") as tar:  # SageMaker packs the directory's contents
            for path in sorted((root / "model").iterdir()):
                tar.add(path, arcname=path.name)
        job = f"pipelines-{self.execution_id}-{step['Name']}"
        uri = f"{self.value(args['OutputDataConfig']['S3OutputPath']).rstrip('/')}/{job}/output/model.tar.gz"
        bucket, key = split_s3(uri)
        self.s3.upload_file(str(archive), bucket, key)
        self.model_artifacts[step["Name"]] = uri

    def condition(self, step: dict[str, Any]) -> None:
        args = step["Arguments"]
        compare = {
            "GreaterThanOrEqualTo": lambda a, b: a >= b,
            "GreaterThan": lambda a, b: a > b,
            "LessThan": lambda a, b: a < b,
        }
        holds = all(
            compare[c["Type"]](self.value(c["LeftValue"]), self.value(c["RightValue"])) for c in args["Conditions"]
        )
        for branch in args["IfSteps"] if holds else args["ElseSteps"]:
            self.step(branch)

    def register(self, step: dict[str, Any]) -> None:
        request = self.value(step["Arguments"])
        if self.sagemaker is not None:
            arn = self.sagemaker.create_model_package(**request)["ModelPackageArn"]
            request["ModelPackageArn"] = arn
            # The package as the registry holds it right after registration: moto keeps its
            # CustomerMetadataProperties, but its update_model_package (the approval) replaces them
            # with the update's own, none, where SageMaker adds the update's to them.
            self.described.append(self.sagemaker.describe_model_package(ModelPackageName=arn))
        self.registered.append(request)

    def step(self, step: dict[str, Any]) -> None:
        kind = step["Type"]
        if kind == "Processing":
            self.processing(step)
        elif kind == "Training":
            self.training(step)
        elif kind == "Condition":
            self.condition(step)
        elif kind == "RegisterModel":
            self.register(step)
        elif kind == "Fail":
            self.failed = step["Arguments"]["ErrorMessage"]
        else:
            raise NotImplementedError(kind)

    def run(self) -> PipelineRun:
        for step in self.definition["Steps"]:
            self.step(step)
        return self
