"""A real moto server for the account-operation tests: boto3 talks HTTP to it on 127.0.0.1.

`moto_server` starts `python -m moto.server` once per session on a free port and stops that
process at the end; `aws_env` resets the server's state and points the environment at it
(AWS_ENDPOINT_URL, fake credentials, no AWS config files) for one test."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

REGION = "eu-west-1"
ACCOUNT = "123456789012"  # moto's default account


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _post(url: str, body: bytes = b"") -> None:
    # text/plain: a form content type would make the server consume the body as form fields
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "text/plain"})
    urllib.request.urlopen(request, timeout=10).read()


def wait_until_ready(
    ready: Callable[[], bool], process: subprocess.Popen, seconds: float, failure: Callable[[], str]
) -> None:
    """Poll `ready` until it is true; fail the test with `failure()` if the server process
    exits or `seconds` pass first."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if ready():
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(failure())
        time.sleep(0.1)


def stop(process: subprocess.Popen) -> None:
    """Stop a server the tests started: politely, then for sure."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass(frozen=True)
class MotoServer:
    url: str

    def reset(self) -> None:
        _post(f"{self.url}/moto-api/reset")

    def enforce_iam(self, enabled: bool) -> None:
        """Make moto check credentials and IAM policies (as AWS does) from the next request on."""
        _post(f"{self.url}/moto-api/reset-auth", b"0" if enabled else b"inf")


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    port = _free_port()
    log = (tmp_path_factory.mktemp("moto") / "server.log").open("wb")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    server = MotoServer(f"http://127.0.0.1:{port}")
    try:
        wait_until_ready(
            lambda: server.reset() is None,
            process,
            30,
            lambda: f"moto server did not start (exit code {process.poll()}); see {log.name}",
        )
        yield server
    finally:
        stop(process)
        log.close()


@pytest.fixture
def aws_env(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch, tmp_path) -> MotoServer:
    """A clean moto account that boto3 reaches through the standard environment variables."""
    moto_server.reset()
    for name in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    # moto answers APIs it lacks with 5xx pages; one attempt keeps those checks fast.
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return moto_server


@pytest.fixture
def no_credentials(aws_env: MotoServer, monkeypatch: pytest.MonkeyPatch) -> MotoServer:
    """The moto endpoint, but no credentials anywhere in the chain."""
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    return aws_env
