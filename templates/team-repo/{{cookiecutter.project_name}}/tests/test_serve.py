from __future__ import annotations

import io
import json

import pytest
import skops.io

from {{ cookiecutter.package_name }}.config import (
    DEFAULT_MAX_REQUEST_BYTES,
    DEFAULT_MAX_REQUEST_ROWS,
)
from {{ cookiecutter.package_name }}.data import load_dataset
from {{ cookiecutter.package_name }}.model_io import MODEL_FILE, file_sha256
from {{ cookiecutter.package_name }}.serve import create_app

{%- if cookiecutter.level|int >= 2 %}


# The model trained in-process, and the one the training pipeline packed (see conftest.py).
@pytest.fixture(params=["model_dir", "pipeline_model_dir"])
def client(request):
    return create_app(request.getfixturevalue(request.param)).test_client()
{%- else %}


@pytest.fixture
def client(model_dir):
    return create_app(model_dir).test_client()
{%- endif %}


def _rows(n: int = 3) -> list[list[float]]:
    return [[float(v) for v in row] for row in load_dataset().features[:n]]


def _csv(rows: list[list[float]]) -> str:
    return "\n".join(",".join(str(v) for v in row) for row in rows)


def test_ping_is_ok_with_a_model(client) -> None:
    assert client.get("/ping").status_code == 200


def test_ping_is_unavailable_without_a_model(tmp_path) -> None:
    response = create_app(tmp_path).test_client().get("/ping")
    assert response.status_code == 503


def test_the_model_with_the_expected_digest_is_served(model_dir, monkeypatch) -> None:
    monkeypatch.setenv("MLOPS_BP_MODEL_SHA256", file_sha256(model_dir / MODEL_FILE))
    client = create_app(model_dir).test_client()
    assert client.get("/ping").status_code == 200
    assert client.post("/invocations", json={"instances": _rows(2)}).status_code == 200


def test_a_model_with_another_digest_is_never_served(model_dir, monkeypatch, capsys) -> None:
    def never(*args, **kwargs):
        raise AssertionError("the app deserialised a model that failed its digest check")

    monkeypatch.setattr(skops.io, "load", never)
    monkeypatch.setattr(skops.io, "loads", never)
    monkeypatch.setenv("MLOPS_BP_MODEL_SHA256", "0" * 64)
    client = create_app(model_dir).test_client()
    for _ in range(3):
        response = client.get("/ping")
        assert response.status_code == 503
        assert "differs from the expected 000000000000" in response.get_json()["error"]
    assert client.post("/invocations", json={"instances": _rows(1)}).status_code == 503
    logged = capsys.readouterr().err.splitlines()
    assert len(logged) == 1 and "not serving the model" in logged[0]  # once, on one line


def test_json_invocation_returns_one_prediction_per_row(client) -> None:
    response = client.post("/invocations", json={"instances": _rows(3)})
    assert response.status_code == 200
    body = response.get_json()
    assert len(body["predictions"]) == 3
    assert set(body["predictions"]) <= {0, 1}
    assert all(0.0 <= p <= 1.0 for p in body["probabilities"])


def test_json_accepts_integers(client) -> None:
    rows = [[int(v) for v in row] for row in _rows(2)]
    assert client.post("/invocations", json={"instances": rows}).status_code == 200


def test_csv_invocation_returns_label_and_score_lines(client) -> None:
    response = client.post("/invocations", data=_csv(_rows(2)), content_type="text/csv")
    assert response.status_code == 200
    lines = response.get_data(as_text=True).splitlines()
    assert len(lines) == 2
    label, score = lines[0].split(",")
    assert label in {"0", "1"} and 0.0 <= float(score) <= 1.0


def _one_row_with(value: str) -> bytes:
    """A JSON body of one row of 30 values, the first written as `value`."""
    return ('{"instances": [[' + value + ", 1.0" * 29 + "]]}").encode()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(b'{"rows": []}', "instances", id="no instances"),
        pytest.param(b'{"instances": []}', "non-empty", id="no rows"),
        pytest.param(b'{"instances": [[1.0, 2.0]]}', "30 numbers", id="short row"),
        pytest.param(b'{"instances": [1.0]}', "30 numbers", id="row not a list"),
        pytest.param(_one_row_with('"1.0"'), "number", id="string"),
        pytest.param(_one_row_with("true"), "number", id="boolean"),
        pytest.param(_one_row_with("null"), "number", id="null"),
        pytest.param(_one_row_with("NaN"), "NaN", id="NaN"),
        pytest.param(_one_row_with("-Infinity"), "Infinity", id="Infinity"),
        pytest.param(_one_row_with("1e999"), "finite", id="overflowing float"),
        pytest.param(_one_row_with("1" + "0" * 400), "finite", id="overflowing integer"),
        pytest.param(b'{"instances": [[1.0,', "malformed JSON", id="malformed"),
        pytest.param(b"[" * 100_000, "nested too deeply", id="deeply nested"),
        pytest.param(b'{"instances": [["\xff"]]}', "UTF-8", id="not UTF-8"),
    ],
)
def test_bad_json_gets_a_400_with_a_reason(client, body, message) -> None:
    response = client.post("/invocations", data=body, content_type="application/json")
    assert response.status_code == 400
    assert message in response.get_json()["error"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(b"", "non-empty", id="empty"),
        pytest.param(b"1.0,2.0\n", "30 numbers", id="short row"),
        pytest.param(b",".join([b"x"] * 30), "number", id="text"),
        pytest.param(b",".join([b"nan"] * 30), "finite", id="nan"),
        pytest.param(b",".join([b"inf"] * 30), "finite", id="inf"),
        pytest.param(b"1" * 200_000, "field larger than field limit", id="oversized field"),
        pytest.param(b"\x00" + b",1.0" * 29, "number", id="NUL byte"),
        pytest.param(b"\xff\xfe," * 30, "UTF-8", id="not UTF-8"),
    ],
)
def test_bad_csv_gets_a_400_with_a_reason(client, body, message) -> None:
    response = client.post("/invocations", data=body, content_type="text/csv")
    assert response.status_code == 400
    assert message in response.get_json()["error"]


def test_a_body_over_the_limit_is_413(client) -> None:
    body = b"0," * (DEFAULT_MAX_REQUEST_BYTES // 2 + 1)
    response = client.post("/invocations", data=body, content_type="text/csv")
    assert response.status_code == 413
    assert "bytes" in response.get_json()["error"]


class _UnreadableBody:
    """A request body that fails the test if the app reads it."""

    def read(self, *args) -> bytes:
        raise AssertionError("the app read a body it should have refused")

    readline = read


def test_the_size_is_checked_before_the_body_is_read(client) -> None:
    environ = {
        "wsgi.input": _UnreadableBody(),
        "CONTENT_LENGTH": str(DEFAULT_MAX_REQUEST_BYTES + 1),
    }
    response = client.post("/invocations", content_type="text/csv", environ_overrides=environ)
    assert response.status_code == 413


def _chunked(body: bytes) -> dict:
    """The WSGI environ of a chunked body as gunicorn passes it (no Content-Length)."""
    return {
        "wsgi.input": io.BytesIO(body),
        "wsgi.input_terminated": True,
        "HTTP_TRANSFER_ENCODING": "chunked",
    }


def test_a_chunked_body_is_limited_too(client) -> None:
    over = _chunked(b"0," * (DEFAULT_MAX_REQUEST_BYTES // 2) + b"0")
    response = client.post("/invocations", content_type="text/csv", environ_overrides=over)
    assert response.status_code == 413
    within = _chunked(_csv(_rows(2)).encode())
    response = client.post("/invocations", content_type="text/csv", environ_overrides=within)
    assert response.status_code == 200


def test_the_size_limit_comes_from_the_environment(model_dir, monkeypatch) -> None:
    monkeypatch.setenv("MAX_REQUEST_BYTES", "100")
    client = create_app(model_dir).test_client()
    response = client.post("/invocations", json={"instances": _rows(1)})
    assert response.status_code == 413


@pytest.mark.parametrize("content_type", ["application/json", "text/csv"])
def test_too_many_rows_is_413(client, content_type) -> None:
    rows = _rows(1) * (DEFAULT_MAX_REQUEST_ROWS + 1)
    if content_type == "text/csv":
        body = _csv(rows).encode()
    else:
        body = json.dumps({"instances": rows}).encode()
    response = client.post("/invocations", data=body, content_type=content_type)
    assert response.status_code == 413
    assert "rows" in response.get_json()["error"]


def test_the_row_limit_is_inclusive(client) -> None:
    rows = _rows(1) * DEFAULT_MAX_REQUEST_ROWS
    assert client.post("/invocations", json={"instances": rows}).status_code == 200


def test_unsupported_content_type_is_415(client) -> None:
    response = client.post("/invocations", data="x", content_type="application/xml")
    assert response.status_code == 415
