"""The serving app, following SageMaker's container contract so the same image serves on
SageMaker and on Kubernetes: `GET /ping` answers 200 once the model is loaded, and
`POST /invocations` takes JSON (`{"instances": [[...], ...]}`) or CSV rows of features.
{%- if cookiecutter.level|int >= 4 %}
It also emits the metrics drift monitoring needs (see monitoring.py).
{%- endif %}
"""

from __future__ import annotations

import csv
import io
import os
import sys
{%- if cookiecutter.level|int >= 4 %}
import time
{%- endif %}
from pathlib import Path
from threading import Lock

from flask import Flask, Response, jsonify, request

from .config import SERVING_PORT, model_dir
from .features import FeatureError, to_matrix
from .model_io import LoadedModel, ModelNotFoundError, load_model
{%- if cookiecutter.level|int >= 4 %}
from .monitoring import ModelMonitor
{%- endif %}


class _ModelHolder:
    """Loads the model on first use, so the server starts even before the model is there."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._loaded: LoadedModel | None = None
        self._lock = Lock()

    def get(self) -> LoadedModel | None:
        with self._lock:
            if self._loaded is None:
                try:
                    self._loaded = load_model(self.directory)
                except ModelNotFoundError:
                    return None
            return self._loaded


def _parse_rows() -> list:
    if request.mimetype == "application/json":
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or "instances" not in body:
            raise FeatureError('expected a JSON object {"instances": [[...], ...]}')
        return body["instances"]
    text = request.get_data(as_text=True)
    return [row for row in csv.reader(io.StringIO(text)) if row]


def _error(status: int, message: str) -> tuple[Response, int]:
    return jsonify({"error": message}), status


def create_app(directory: Path | None = None) -> Flask:
    """The WSGI app; `directory` defaults to the model directory of the environment."""
    app = Flask(__name__)
    holder = _ModelHolder(Path(directory) if directory else model_dir())
{%- if cookiecutter.level|int >= 4 %}
    monitors: dict[str, ModelMonitor] = {}

    def monitor_of(loaded: LoadedModel) -> ModelMonitor:
        if "monitor" not in monitors:
            monitors["monitor"] = ModelMonitor.from_metadata(loaded.metadata)
        return monitors["monitor"]
{%- endif %}

    @app.get("/ping")
    def ping() -> tuple[Response, int]:
        if holder.get() is None:
            return _error(503, f"no model in {holder.directory}")
        return jsonify({"status": "ok"}), 200

    @app.post("/invocations")
    def invocations() -> tuple[Response, int]:
        loaded = holder.get()
        if loaded is None:
            return _error(503, f"no model in {holder.directory}")
        if request.mimetype not in ("application/json", "text/csv"):
            return _error(415, "send application/json or text/csv")
{%- if cookiecutter.level|int >= 4 %}
        started = time.perf_counter()
{%- endif %}
        try:
            features = to_matrix(_parse_rows(), loaded.n_features)
        except FeatureError as exc:
{%- if cookiecutter.level|int >= 4 %}
            monitor_of(loaded).record_error()
{%- endif %}
            return _error(400, str(exc))
{%- if cookiecutter.level|int >= 4 %}
        try:
            labels = [int(v) for v in loaded.model.predict(features)]
            scores = [float(v) for v in loaded.model.predict_proba(features)[:, 1]]
        except Exception:
            monitor_of(loaded).record_error()  # a model failure counts as an error, then 500
            raise
        monitor_of(loaded).observe(features, scores, time.perf_counter() - started)
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
            return _error(503, f"no model in {holder.directory}")
        text = monitor_of(loaded).prometheus_text()
        return Response(text, mimetype="text/plain; version=0.0.4"), 200
{%- endif %}

    return app


def main(argv: list[str] | None = None) -> int:
    """Serve with gunicorn on port 8080. SageMaker passes the argument `serve`."""
    args = sys.argv[1:] if argv is None else argv
    if args not in ([], ["serve"]):
        print("usage: {{ cookiecutter.project_name }}-serve [serve]", file=sys.stderr)
        return 2
    # One process keeps the model (and its metrics) once; threads serve requests in parallel.
    command = [
        "gunicorn",
        "--bind",
        f"0.0.0.0:{SERVING_PORT}",
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
