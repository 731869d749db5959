"""Saving and loading a trained model with the metadata serving needs.

The model is saved with skops (model.skops), which rebuilds only the types it is told to trust
instead of running whatever a pickle says: skops' own defaults (scikit-learn's estimators, numpy
and scipy basics) and TRUSTED_TYPES, the classes of the pipeline train.build_model makes. The
loader never asks the file which types to trust. With an expected sha256 (recorded when the model
was registered), a file that differs is refused before anything in it is read as a model.
{%- if cookiecutter.platform == "kubernetes" and cookiecutter.level|int >= 2 %}

On Kubernetes the model registry is the MLflow tracking server of the environment
(MLFLOW_TRACKING_URI): the training Job logs each run and registers a version whose tags record
the sha256 of its model file and its evaluation; an approval points an alias (`champion`) at a
version; the model server's loader downloads the version an alias names and checks the digest.
MlflowRegistry speaks MLflow's REST API with the standard library, so no image carries an
MLflow client; artifacts go through the server's artifact proxy (`mlflow server
--serve-artifacts`), so only the server holds credentials for the artifacts bucket.
{%- endif %}
"""

from __future__ import annotations

import hashlib
import json
{%- if cookiecutter.platform == "kubernetes" and cookiecutter.level|int >= 2 %}
import shutil
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
{%- endif %}
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import skops.io
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from skops.io.exceptions import UntrustedTypesFoundException

MODEL_FILE = "model.skops"
METADATA_FILE = "metadata.json"
# The classes of the model train.build_model makes (tests/test_train.py keeps them in step).
TRUSTED_TYPES: tuple[type, ...] = (Pipeline, StandardScaler, LogisticRegression)
# Characters of a digest shown in messages.
SHORT_DIGEST = 12


class ModelNotFoundError(FileNotFoundError):
    """No trained model in the model directory (train one first)."""


class ModelIntegrityError(ValueError):
    """The model file is not the one expected: another digest, or types nobody trusted."""


@dataclass(frozen=True)
class LoadedModel:
    model: Pipeline
    metadata: dict[str, Any]

    @property
    def n_features(self) -> int:
        return len(self.metadata["feature_names"])


def file_sha256(path: Path) -> str:
    """The sha256 of a file as hex, read in chunks (a model archive may be large)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save_model(model: Pipeline, metadata: dict[str, Any], directory: Path) -> None:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    skops.io.dump(model, directory / MODEL_FILE)
    text = json.dumps(metadata, indent=2, sort_keys=True) + "\n"
    (directory / METADATA_FILE).write_text(text, encoding="utf-8")


def load_model(directory: Path, expected_sha256: str | None = None) -> LoadedModel:
    """The model of `directory`; with `expected_sha256`, only if model.skops has that digest."""
    directory = Path(directory)
    path = directory / MODEL_FILE
    if not path.is_file():
        raise ModelNotFoundError(f"no {MODEL_FILE} in {directory}")
    # One read: the bytes whose digest is checked are the bytes that are deserialised.
    data = path.read_bytes()
    if expected_sha256 is not None:
        actual = hashlib.sha256(data).hexdigest()
        expected = expected_sha256.strip().lower()
        if actual != expected:
            raise ModelIntegrityError(
                f"{path}: sha256 {actual[:SHORT_DIGEST]}... differs from the expected "
                f"{expected[:SHORT_DIGEST]}...; refusing to load it"
            )
    try:
        model = skops.io.loads(data, trusted=list(TRUSTED_TYPES))
    except UntrustedTypesFoundException as exc:
        untrusted = str(exc).splitlines()[0]  # skops adds notes on further lines
        raise ModelIntegrityError(f"{path}: refusing to load it. {untrusted}") from None
    metadata = json.loads((directory / METADATA_FILE).read_text(encoding="utf-8"))
    return LoadedModel(model, metadata)
{%- if cookiecutter.platform == "kubernetes" and cookiecutter.level|int >= 2 %}


# Tags a registered version carries (set by the training Job, read by approval and the loader).
SHA256_TAG = "mlops_bp.model_sha256"
METRICS_TAG = "mlops_bp.metrics"
# Where a run keeps the model's files among its artifacts.
MODEL_ARTIFACT_PATH = "model"
# What the loader writes next to the model: which registered version it is.
REGISTRATION_FILE = "registration.json"
ARTIFACT_SCHEME = "mlflow-artifacts:"


class RegistryError(RuntimeError):
    """The tracking server refused a call or has nothing for the question asked."""


@dataclass(frozen=True)
class ModelVersion:
    name: str
    version: str
    source: str
    tags: dict[str, str]

    @classmethod
    def from_api(cls, body: dict[str, Any]) -> ModelVersion:
        tags = {t["key"]: t.get("value", "") for t in body.get("tags", [])}
        return cls(body["name"], str(body["version"]), body["source"], tags)


class MlflowRegistry:
    """The few calls of MLflow's REST API (2.0) that training, approval and loading make."""

    def __init__(self, tracking_uri: str, timeout: float = 60) -> None:
        if not tracking_uri.startswith(("http://", "https://")):
            raise RegistryError(f"MLFLOW_TRACKING_URI must be an http(s) URL, got {tracking_uri!r}")
        self.base = tracking_uri.rstrip("/")
        self.timeout = timeout

    def _request(self, method: str, url: str, data: bytes | None, content_type: str) -> bytes:
        request = urllib.request.Request(url, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:500].decode("utf-8", "replace")
            raise RegistryError(f"{method} {url}: HTTP {exc.code}: {detail}") from None
        except (urllib.error.URLError, TimeoutError) as exc:
            raise RegistryError(f"{method} {url}: {exc}") from None

    def call(self, method: str, endpoint: str, body: dict | None = None, **query: str) -> dict:
        url = f"{self.base}/api/2.0/mlflow/{endpoint}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = json.dumps(body).encode() if body is not None else None
        raw = self._request(method, url, data, "application/json")
        return json.loads(raw) if raw.strip() else {}

    def _artifact_url(self, uri: str) -> str:
        """An artifact URI of the server's proxy as the URL that reads or writes it."""
        if not uri.startswith(ARTIFACT_SCHEME):
            raise RegistryError(f"{uri}: not an artifact of the tracking server's proxy")
        path = uri.removeprefix(ARTIFACT_SCHEME).lstrip("/")
        return f"{self.base}/api/2.0/mlflow-artifacts/artifacts/{urllib.parse.quote(path)}"

    def experiment_id(self, name: str) -> str:
        try:
            return self.call("GET", "experiments/get-by-name", experiment_name=name)["experiment"][
                "experiment_id"
            ]
        except RegistryError as exc:
            if "RESOURCE_DOES_NOT_EXIST" not in str(exc):
                raise
        return self.call("POST", "experiments/create", {"name": name})["experiment_id"]

    def log_run(
        self, experiment: str, params: dict[str, Any], metrics: dict[str, float], model_dir: Path
    ) -> tuple[str, str]:
        """A finished run with `params`, `metrics` and the files of `model_dir` as its `model`
        artifacts; returns (run id, artifact URI of the model)."""
        now = int(time.time() * 1000)
        experiment_id = self.experiment_id(experiment)
        run = self.call("POST", "runs/create", {"experiment_id": experiment_id, "start_time": now})
        run = run["run"]["info"]
        run_id = run["run_id"]
        self.call(
            "POST",
            "runs/log-batch",
            {
                "run_id": run_id,
                "params": [{"key": k, "value": str(v)} for k, v in sorted(params.items())],
                "metrics": [
                    {"key": k, "value": float(v), "timestamp": now, "step": 0}
                    for k, v in sorted(metrics.items())
                ],
            },
        )
        model_uri = f"{run['artifact_uri'].rstrip('/')}/{MODEL_ARTIFACT_PATH}"
        for path in sorted(Path(model_dir).iterdir()):
            url = f"{self._artifact_url(model_uri)}/{path.name}"
            self._request("PUT", url, path.read_bytes(), "application/octet-stream")
        self.call("POST", "runs/update", {"run_id": run_id, "status": "FINISHED", "end_time": now})
        return run_id, model_uri

    def register(self, name: str, source: str, run_id: str, tags: dict[str, str]) -> ModelVersion:
        try:
            self.call("POST", "registered-models/create", {"name": name})
        except RegistryError as exc:
            if "RESOURCE_ALREADY_EXISTS" not in str(exc):
                raise
        body = {
            "name": name,
            "source": source,
            "run_id": run_id,
            "tags": [{"key": k, "value": v} for k, v in sorted(tags.items())],
        }
        created = self.call("POST", "model-versions/create", body)
        return ModelVersion.from_api(created["model_version"])

    def version(self, name: str, version: str) -> ModelVersion:
        found = self.call("GET", "model-versions/get", name=name, version=version)
        return ModelVersion.from_api(found["model_version"])

    def by_alias(self, name: str, alias: str) -> ModelVersion:
        try:
            found = self.call("GET", "registered-models/alias", name=name, alias=alias)
        except RegistryError as exc:
            if "RESOURCE_DOES_NOT_EXIST" in str(exc) or "HTTP 404" in str(exc):
                raise RegistryError(
                    f"no version of {name} has the alias {alias!r} yet: train, then approve one"
                ) from None
            raise
        return ModelVersion.from_api(found["model_version"])

    def set_alias(self, name: str, alias: str, version: str) -> None:
        body = {"name": name, "alias": alias, "version": version}
        self.call("POST", "registered-models/alias", body)

    def download(self, version: ModelVersion, target: Path) -> str:
        """The version's model files into `target`, only if model.skops has the sha256 recorded
        at registration (checked before the file is placed where serving reads it); returns it."""
        expected = version.tags.get(SHA256_TAG, "")
        if len(expected) != 64:
            raise ModelIntegrityError(
                f"{version.name} version {version.version} has no recorded {SHA256_TAG}: "
                "register models with the training Job"
            )
        target = Path(target)
        target.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target) as staging:
            for name in (MODEL_FILE, METADATA_FILE):
                url = f"{self._artifact_url(version.source.rstrip('/'))}/{name}"
                (Path(staging) / name).write_bytes(self._request("GET", url, None, ""))
            actual = file_sha256(Path(staging) / MODEL_FILE)
            if actual != expected:
                raise ModelIntegrityError(
                    f"{version.name} version {version.version}: {MODEL_FILE} has sha256 "
                    f"{actual[:SHORT_DIGEST]}..., registered with {expected[:SHORT_DIGEST]}..."
                )
            # The model file last: once it is there, the model is complete.
            for name in (METADATA_FILE, MODEL_FILE):
                shutil.move(str(Path(staging) / name), target / name)
        return actual
{%- endif %}
