"""Small HTTP helpers the loop tier's servers are reached with (all on 127.0.0.1)."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request


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
