from __future__ import annotations

import pytest

from {{ cookiecutter.package_name }}.data import load_dataset
from {{ cookiecutter.package_name }}.serve import create_app


@pytest.fixture
def client(model_dir):
    return create_app(model_dir).test_client()


def _rows(n: int = 3) -> list[list[float]]:
    return [[float(v) for v in row] for row in load_dataset().features[:n]]


def test_ping_is_ok_with_a_model(client) -> None:
    assert client.get("/ping").status_code == 200


def test_ping_is_unavailable_without_a_model(tmp_path) -> None:
    response = create_app(tmp_path).test_client().get("/ping")
    assert response.status_code == 503


def test_json_invocation_returns_one_prediction_per_row(client) -> None:
    response = client.post("/invocations", json={"instances": _rows(3)})
    assert response.status_code == 200
    body = response.get_json()
    assert len(body["predictions"]) == 3
    assert set(body["predictions"]) <= {0, 1}
    assert all(0.0 <= p <= 1.0 for p in body["probabilities"])


def test_csv_invocation_returns_label_and_score_lines(client) -> None:
    payload = "\n".join(",".join(str(v) for v in row) for row in _rows(2))
    response = client.post("/invocations", data=payload, content_type="text/csv")
    assert response.status_code == 200
    lines = response.get_data(as_text=True).splitlines()
    assert len(lines) == 2
    label, score = lines[0].split(",")
    assert label in {"0", "1"} and 0.0 <= float(score) <= 1.0


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"rows": []}, "instances"),
        ({"instances": []}, "non-empty"),
        ({"instances": [[1.0, 2.0]]}, "30 numbers"),
        ({"instances": [["a"] * 30]}, "number"),
    ],
)
def test_bad_requests_get_a_400_with_a_reason(client, payload, message) -> None:
    response = client.post("/invocations", json=payload)
    assert response.status_code == 400
    assert message in response.get_json()["error"]


def test_unsupported_content_type_is_415(client) -> None:
    response = client.post("/invocations", data="x", content_type="application/xml")
    assert response.status_code == 415
