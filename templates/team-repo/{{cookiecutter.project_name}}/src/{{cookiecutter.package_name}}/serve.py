"""The serving app, following SageMaker's container contract so the same image serves on
SageMaker and on Kubernetes: `GET /ping` answers 200 once the model is loaded, and
`POST /invocations` takes JSON (`{"instances": [[...], ...]}`) or CSV rows of features.
Bodies above MAX_REQUEST_BYTES (1 MiB) or MAX_REQUEST_ROWS (1000 rows) get a 413, anything
else the model cannot use a 400 with a JSON `error`. With MLOPS_BP_MODEL_SHA256 set (the sha256
of model.skops recorded when the model was registered), a model file with another digest is
never loaded: the app logs why once and `/ping` stays 503, so it never takes traffic.
{%- if cookiecutter.level|int >= 4 %}
It also emits the metrics drift monitoring needs (see monitoring.py).
{%- endif %}
{%- if cookiecutter.platform == "kubernetes" and cookiecutter.level|int >= 2 %}

On Kubernetes the model comes from the environment's MLflow registry: the model server's init
container runs `{{ cookiecutter.project_name }}-serve load`, which downloads the version the alias
MODEL_ALIAS (`champion`, an approval sets it) names into MODEL_DIR, checking its sha256 against
the one recorded at registration; the server then starts on it, Ready once it has loaded it.
{%- endif %}
{%- if cookiecutter.platform == "kubernetes" and cookiecutter.level|int >= 4 %}
With DATA_CAPTURE_S3_URI set, a DATA_CAPTURE_PERCENT sample of the answered requests and their
responses goes to S3 in batches, off the request path (monitoring.DataCapture).
{%- endif %}
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
{%- if cookiecutter.level|int >= 4 %}
import time
{%- endif %}
from pathlib import Path
from threading import Lock
from typing import Any, NoReturn

import numpy as np
from flask import Flask, Response, jsonify, request

from .config import (
{%- if cookiecutter.platform == "kubernetes" and cookiecutter.level|int >= 2 %}
    CHAMPION_ALIAS,
{%- endif %}
    SERVING_PORT,
    expected_model_sha256,
    max_request_bytes,
    max_request_rows,
    model_dir,
{%- if cookiecutter.platform == "kubernetes" and cookiecutter.level|int >= 2 %}
    registered_model_name,
{%- endif %}
)
from .features import FeatureError, to_matrix
{%- if cookiecutter.platform == "kubernetes" and cookiecutter.level|int >= 2 %}
from .model_io import (
    REGISTRATION_FILE,
    LoadedModel,
    MlflowRegistry,
    ModelIntegrityError,
    ModelNotFoundError,
    RegistryError,
    load_model,
)
{%- else %}
from .model_io import LoadedModel, ModelIntegrityError, ModelNotFoundError, load_model
{%- endif %}
{%- if cookiecutter.platform == "kubernetes" and cookiecutter.level|int >= 4 %}
from .monitoring import DataCapture, ModelMonitor
{%- elif cookiecutter.level|int >= 4 %}
from .monitoring import ModelMonitor
{%- endif %}

CONTENT_TYPES = ("application/json", "text/csv")


class RequestRejected(Exception):
    """A request the app refuses, with the HTTP status that says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class _ModelHolder:
    """Loads the model on first use, so the server starts even before the model is there; a
    model file that fails the integrity check is refused for good."""

    def __init__(self, directory: Path, expected_sha256: str | None) -> None:
        self.directory = directory
        self.expected_sha256 = expected_sha256
        self.refused: str | None = None
        self._loaded: LoadedModel | None = None
        self._lock = Lock()

    def get(self) -> LoadedModel | None:
        with self._lock:
            if self._loaded is None and self.refused is None:
                try:
                    self._loaded = load_model(self.directory, self.expected_sha256)
                except ModelNotFoundError:
                    return None
                except ModelIntegrityError as exc:
                    self.refused = str(exc)
                    print(f"serve: not serving the model: {exc}", file=sys.stderr, flush=True)
            return self._loaded

    def unavailable(self) -> str:
        """Why there is no model to serve."""
        return self.refused or f"no model in {self.directory}"


def _reject_constant(name: str) -> NoReturn:
    raise FeatureError(f"{name} is not a number this model accepts")


def _json_rows(text: str) -> Any:
    try:
        body = json.loads(text, parse_constant=_reject_constant)
    except FeatureError:
        raise
    except RecursionError:
        raise FeatureError("the JSON is nested too deeply") from None
    except ValueError as exc:  # malformed JSON, or an integer too long to parse
        raise FeatureError(f"malformed JSON: {exc}") from None
    if not isinstance(body, dict) or "instances" not in body:
        raise FeatureError('expected a JSON object {"instances": [[...], ...]}')
    return body["instances"]


def _csv_rows(text: str, max_rows: int) -> list[list[str]]:
    rows: list[list[str]] = []
    try:
        for row in csv.reader(io.StringIO(text)):
            if not row:
                continue
            if len(rows) == max_rows:
                raise RequestRejected(413, f"at most {max_rows} rows per request")
            rows.append(row)
    except csv.Error as exc:  # e.g. a field larger than csv's field size limit
        raise FeatureError(f"malformed CSV: {exc}") from None
    return rows


def _read_body(max_bytes: int) -> bytes:
    """The body, or RequestRejected(413) if it is larger than max_bytes: a declared length is
    checked before anything is read, and a chunked body is read at most one byte past the limit
    (Flask's MAX_CONTENT_LENGTH, set by create_app)."""
    declared = request.content_length
    if declared is None or declared <= max_bytes:
        body = request.get_data(cache=False)
        if len(body) <= max_bytes:
            return body
    raise RequestRejected(413, f"the body is larger than {max_bytes} bytes")


def _request_features(n_features: int, max_bytes: int, max_rows: int) -> np.ndarray:
    """The request's features, or RequestRejected."""
    if request.mimetype not in CONTENT_TYPES:
        raise RequestRejected(415, "send application/json or text/csv")
    body = _read_body(max_bytes)
    try:
        text = body.decode("utf-8")
        if request.mimetype == "text/csv":
            return to_matrix(_csv_rows(text, max_rows), n_features, text=True)
        rows = _json_rows(text)
        if isinstance(rows, list) and len(rows) > max_rows:
            raise RequestRejected(413, f"at most {max_rows} rows per request")
        return to_matrix(rows, n_features)
    except UnicodeDecodeError:
        raise RequestRejected(400, "the body must be UTF-8 text") from None
    except FeatureError as exc:
        raise RequestRejected(400, str(exc)) from None


def _error(status: int, message: str) -> tuple[Response, int]:
    return jsonify({"error": message}), status


def create_app(directory: Path | None = None) -> Flask:
    """The WSGI app; `directory` defaults to the model directory of the environment."""
    app = Flask(__name__)
    max_bytes, max_rows = max_request_bytes(), max_request_rows()
    app.config["MAX_CONTENT_LENGTH"] = max_bytes + 1  # where reading a chunked body stops
    holder = _ModelHolder(Path(directory) if directory else model_dir(), expected_model_sha256())
{%- if cookiecutter.level|int >= 4 %}
    monitors: dict[str, ModelMonitor] = {}

    def monitor_of(loaded: LoadedModel) -> ModelMonitor:
        if "monitor" not in monitors:
            monitors["monitor"] = ModelMonitor.from_metadata(loaded.metadata)
        return monitors["monitor"]
{%- endif %}
{%- if cookiecutter.platform == "kubernetes" and cookiecutter.level|int >= 4 %}

    capture = DataCapture.from_environment(holder.directory)
{%- endif %}

    @app.get("/ping")
    def ping() -> tuple[Response, int]:
        if holder.get() is None:
            return _error(503, holder.unavailable())
        return jsonify({"status": "ok"}), 200

    @app.post("/invocations")
    def invocations() -> tuple[Response, int]:
        loaded = holder.get()
        if loaded is None:
            return _error(503, holder.unavailable())
{%- if cookiecutter.level|int >= 4 %}
        started = time.perf_counter()
{%- endif %}
        try:
            features = _request_features(loaded.n_features, max_bytes, max_rows)
        except RequestRejected as exc:
{%- if cookiecutter.level|int >= 4 %}
            monitor_of(loaded).record_error()
{%- endif %}
            return _error(exc.status, str(exc))
{%- if cookiecutter.level|int >= 4 %}
        try:
            labels = [int(v) for v in loaded.model.predict(features)]
            scores = [float(v) for v in loaded.model.predict_proba(features)[:, 1]]
        except Exception:
            monitor_of(loaded).record_error()  # a model failure counts as an error, then 500
            raise
        monitor_of(loaded).observe(features, scores, time.perf_counter() - started)
{%- if cookiecutter.platform == "kubernetes" %}
        if capture is not None:
            capture.offer(features, labels, scores)
{%- endif %}
{%- else %}
        labels = [int(v) for v in loaded.model.predict(features)]
        scores = [float(v) for v in loaded.model.predict_proba(features)[:, 1]]
{%- endif %}
        if request.mimetype == "text/csv":
            pairs = zip(labels, scores, strict=True)
            lines = "".join(f"{label},{score:.6f}\n" for label, score in pairs)
            return Response(lines, mimetype="text/csv"), 200
        return jsonify({"predictions": labels, "probabilities": scores}), 200
{%- if cookiecutter.level|int >= 4 %}

    @app.get("/metrics")
    def metrics() -> tuple[Response, int]:
        loaded = holder.get()
        if loaded is None:
            return _error(503, holder.unavailable())
        text = monitor_of(loaded).prometheus_text()
        return Response(text, mimetype="text/plain; version=0.0.4"), 200
{%- endif %}

    return app
{%- if cookiecutter.platform == "kubernetes" and cookiecutter.level|int >= 2 %}


def load_approved(environ: dict[str, str]) -> int:
    """The init container: the version MODEL_ALIAS names, digest-checked, into MODEL_DIR."""
    name = registered_model_name(environ)
    alias = environ.get("MODEL_ALIAS") or CHAMPION_ALIAS
    target = model_dir()
    try:
        registry = MlflowRegistry(environ.get("MLFLOW_TRACKING_URI", ""))
        version = registry.by_alias(name, alias)
        digest = registry.download(version, target)
        registration = {"name": name, "version": version.version, "alias": alias, "sha256": digest}
        (target / REGISTRATION_FILE).write_text(json.dumps(registration), encoding="utf-8")
    except (RegistryError, ModelIntegrityError, OSError) as exc:
        print(f"load: {exc}", file=sys.stderr, flush=True)
        return 1
    print(f"loaded {name} version {version.version} ({alias}), sha256 {digest[:12]}...", flush=True)
    return 0
{%- endif %}


def main(argv: list[str] | None = None) -> int:
    """Serve with gunicorn on port 8080, or SAGEMAKER_BIND_TO_PORT when SageMaker sets it
    (multi-container endpoints). SageMaker passes the argument `serve`.
{%- if cookiecutter.platform == "kubernetes" and cookiecutter.level|int >= 2 %}
    `load` is the model server's init container (load_approved).
{%- endif %}"""
    args = sys.argv[1:] if argv is None else argv
{%- if cookiecutter.platform == "kubernetes" and cookiecutter.level|int >= 2 %}
    if args == ["load"]:
        return load_approved(dict(os.environ))
    if args not in ([], ["serve"]):
        print("usage: {{ cookiecutter.project_name }}-serve [serve|load]", file=sys.stderr)
        return 2
{%- else %}
    if args not in ([], ["serve"]):
        print("usage: {{ cookiecutter.project_name }}-serve [serve]", file=sys.stderr)
        return 2
{%- endif %}
    # One process keeps the model (and its metrics) once; threads serve requests in parallel.
    command = [
        "gunicorn",
        "--bind",
        f"0.0.0.0:{os.environ.get('SAGEMAKER_BIND_TO_PORT') or SERVING_PORT}",
        "--workers",
        "1",
        "--threads",
        os.environ.get("SERVING_THREADS", "8"),
        "{{ cookiecutter.package_name }}.serve:create_app()",
    ]
    os.execvp(command[0], command)
    return 0  # not reached: execvp replaces this process


if __name__ == "__main__":
    sys.exit(main())
