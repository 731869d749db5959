"""Small HTTP helpers the loop tier's servers are reached with (all on 127.0.0.1)."""

from __future__ import annotations

import socket
import subprocess
import urllib.error
import urllib.request

from ..moto_server import wait_until_ready


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def request(
    url: str, body: bytes | None = None, content_type: str = "application/json", timeout: float = 30
) -> tuple[int, bytes]:
    """(status, body) of a GET, or of a POST when `body` is given; HTTP errors are answers."""
    headers = {"Content-Type": content_type} if body is not None else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=body, headers=headers), timeout=timeout) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def wait_for_http(url: str, process: subprocess.Popen, seconds: float, what: str) -> None:
    """Wait until `url` answers 200; fail naming `what` with the end of the process's output
    if it does not within `seconds` or the process ends first."""
    wait_until_ready(
        lambda: request(url)[0] == 200,
        process,
        seconds,
        lambda: f"{what} did not become ready: {process.stdout.read().decode()[-3000:]}",
    )
