"""Integration test against a deployed endpoint; the deploy workflow runs it on staging.

ENDPOINT_URL is the endpoint's base URL{% if cookiecutter.platform == "sagemaker" %}, for SageMaker
https://runtime.sagemaker.REGION.amazonaws.com/endpoints/NAME (requests are signed with the
AWS credentials of the environment){% endif %}.
"""

from __future__ import annotations

import json
import os
import urllib.request

import pytest

from {{ cookiecutter.package_name }}.data import load_dataset

ENDPOINT_URL = os.environ.get("ENDPOINT_URL", "").rstrip("/")

pytestmark = pytest.mark.skipif(
    not ENDPOINT_URL, reason="ENDPOINT_URL is not set (the deploy workflow sets it after a deploy)"
)


def _post(path: str, body: bytes, content_type: str) -> tuple[int, bytes]:
    url = ENDPOINT_URL + path
    headers = {"Content-Type": content_type}
{%- if cookiecutter.platform == "sagemaker" %}
    import boto3
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    session = boto3.Session()
    signed = AWSRequest(method="POST", url=url, data=body, headers=headers)
    region = session.region_name or "{{ cookiecutter.region }}"
    SigV4Auth(session.get_credentials(), "sagemaker", region).add_auth(signed)
    headers = dict(signed.headers)
{%- endif %}
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    with urllib.request.urlopen(req, timeout=60) as response:
        return response.status, response.read()
{%- if cookiecutter.platform == "kubernetes" %}


def test_endpoint_is_healthy() -> None:
    with urllib.request.urlopen(ENDPOINT_URL + "/ping", timeout=30) as response:
        assert response.status == 200
{%- endif %}


def test_endpoint_predicts_the_bundled_rows() -> None:
    dataset = load_dataset()
    rows = [[float(v) for v in row] for row in dataset.features[:20]]
    body = json.dumps({"instances": rows}).encode()
    status, raw = _post("/invocations", body, "application/json")
    assert status == 200
    predictions = json.loads(raw)["predictions"]
    assert len(predictions) == 20
    agreement = sum(int(p == t) for p, t in zip(predictions, dataset.target[:20], strict=True))
    assert agreement >= 16, "the deployed model disagrees with the labels on most rows"
