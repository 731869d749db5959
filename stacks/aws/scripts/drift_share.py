"""Model Monitor post-analytics processor (installed by mlops-bp).

After each data-quality run, publish `DriftedFeatureShare`, the metric the drift alarm watches:
the share of features whose mean over the captured window left the served model's baseline by
more than DRIFT_EFFECT_SIZE baseline standard deviations (the rule the serving app's own
monitoring uses). It reads the endpoint's captured requests (SageMaker data-capture JSONL under
`dataset_source`) and the baseline statistics the training pipeline registered with the model
(`baseline_statistics`), both of which the analyzer container is given. Below MIN_ROWS rows it
publishes nothing: a handful of requests must not start a retraining.

Standard library and boto3 only: it runs inside the Model Monitor analyzer image.
"""

import base64
import csv
import io
import json
import math
import os
from pathlib import Path

DRIFT_EFFECT_SIZE = 0.5
MIN_ROWS = 100
# A capture file is one JSON line per request; a line bigger than this is not a request we serve.
MAX_LINE_BYTES = 8 * 1024 * 1024
METRIC_NAME = "DriftedFeatureShare"


def _env(name, default):
    # Model Monitor names the analyzer's environment variables in lower case.
    return os.environ.get(name) or default


def _rows_of(capture):
    """Feature rows of one captured request (CSV, or JSON {"instances": [[...]]})."""
    data = capture.get("data", "")
    encoding = str(capture.get("encoding", "")).upper()
    content_type = str(capture.get("observedContentType", ""))
    if encoding == "BASE64":
        data = base64.b64decode(data).decode("utf-8")
        encoding = "JSON" if "json" in content_type else "CSV"
    if encoding == "JSON" or "json" in content_type:
        body = json.loads(data) if isinstance(data, str) else data
        rows = body.get("instances", []) if isinstance(body, dict) else []
    else:
        rows = [row for row in csv.reader(io.StringIO(data)) if row]
    for row in rows:
        if isinstance(row, list):
            try:
                values = [float(v) for v in row]
            except (TypeError, ValueError):
                continue
            if all(math.isfinite(v) for v in values):
                yield values


def captured_rows(source):
    """Every feature row of the input side of the captured requests under `source`."""
    for path in sorted(Path(source).rglob("*")):
        if not path.is_file() or path.is_symlink():
            continue
        with path.open("rb") as handle:
            for raw in handle:
                if len(raw) > MAX_LINE_BYTES or not raw.strip():
                    continue
                try:
                    record = json.loads(raw)
                    endpoint_input = record["captureData"]["endpointInput"]
                    yield from _rows_of(endpoint_input)
                except (ValueError, KeyError, TypeError, UnicodeDecodeError):
                    continue


def baseline_of(statistics):
    """(mean, std_dev) per feature, in feature order, from Model Monitor statistics.json."""
    pairs = []
    for feature in statistics.get("features", []):
        numbers = feature.get("numerical_statistics", {})
        pairs.append((float(numbers["mean"]), float(numbers["std_dev"])))
    return pairs


def drift_share(rows, baseline):
    """Share of features whose live mean moved more than DRIFT_EFFECT_SIZE standard deviations;
    None when there are fewer than MIN_ROWS rows of the baseline's width."""
    width = len(baseline)
    matching = [row for row in rows if len(row) == width]
    if width == 0 or len(matching) < MIN_ROWS:
        return None, len(matching)
    drifted = 0
    for i, (mean, std) in enumerate(baseline):
        live = sum(row[i] for row in matching) / len(matching)
        if abs(live - mean) / (std if std > 0 else 1.0) > DRIFT_EFFECT_SIZE:
            drifted += 1
    return drifted / width, len(matching)


def postprocess_handler():
    source = _env("dataset_source", "/opt/ml/processing/input/endpoint")
    baseline_path = _env("baseline_statistics", "/opt/ml/processing/baseline/stats/statistics.json")
    with open(baseline_path, encoding="utf-8") as handle:
        baseline = baseline_of(json.load(handle))
    share, rows = drift_share(captured_rows(source), baseline)
    if share is None:
        print(f"{rows} captured rows, fewer than {MIN_ROWS}: no drift metric published")
        return
    import boto3  # the analyzer image has it; imported late so the pure functions test without it

    boto3.client("cloudwatch").put_metric_data(
        Namespace=os.environ["MLOPS_BP_METRIC_NAMESPACE"],
        MetricData=[
            {
                "MetricName": METRIC_NAME,
                "Dimensions": [{"Name": "EndpointName", "Value": os.environ["MLOPS_BP_ENDPOINT"]}],
                "Value": share,
                "Unit": "None",
            }
        ],
    )
    print(f"{rows} captured rows; drifted feature share {share:.3f}")
