"""Model Monitor post-analytics processor (installed by mlops-bp).

After each data-quality run, publish the share of features that violate the baseline as the
CloudWatch metric `DriftedFeatureShare`, which the drift alarm watches.
"""

import json
import os

import boto3


def _read_json(path, default):
    if not os.path.exists(path):
        return default
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def postprocess_handler():
    # Model Monitor's analyzer names its environment variables in lower case.
    report_dir = os.environ.get("output_path", "/opt/ml/processing/resultdata")  # noqa: SIM112
    statistics = _read_json(os.path.join(report_dir, "statistics.json"), {})
    features = {f["name"] for f in statistics.get("features", [])}
    violations = _read_json(os.path.join(report_dir, "constraint_violations.json"), {}).get("violations", [])
    drifted = {v["feature_name"] for v in violations if v.get("constraint_check_type") == "baseline_drift_check"}
    share = len(drifted) / len(features) if features else 0.0
    boto3.client("cloudwatch").put_metric_data(
        Namespace=os.environ["MLOPS_BP_METRIC_NAMESPACE"],
        MetricData=[
            {
                "MetricName": "DriftedFeatureShare",
                "Dimensions": [{"Name": "EndpointName", "Value": os.environ["MLOPS_BP_ENDPOINT"]}],
                "Value": share,
                "Unit": "None",
            }
        ],
    )
    print(f"drifted features: {sorted(drifted)}; share {share:.3f}")
