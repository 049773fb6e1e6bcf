"""`modelyard features serve` closes slow clients (security review 2026-11, R4): a client that
never finishes its headers gets a 408 and is closed, and others are still served."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import httpx

from modelyard.http._timeouts import HEADER_TIMEOUT_ENV

from ..features.conftest import REPO, write_data
from .test_feature_server import _start, _stop


def test_a_client_that_never_finishes_its_headers_is_closed(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "definitions.py").write_text(REPO)
    write_data(repo)
    env = {
        **os.environ,
        "MODELYARD_TRACKING_URI": str(tmp_path / "store"),
        HEADER_TIMEOUT_ENV: "2",  # long enough for a loaded machine between connect and send
    }
    proc, base, _ = _start(repo, env, "--online-store", str(tmp_path / "online.db"))
    try:
        port = int(base.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)) as slow:
            slow.sendall(b"POST /get-online-features HTTP/1.1\r\nhost: x\r\nx-slow: ")
            slow.settimeout(30)
            received = b""
            while chunk := slow.recv(4096):  # ends when the server closes the connection
                received += chunk
        assert received.startswith(b"HTTP/1.1 408")
        assert httpx.get(f"{base}/health", timeout=30).status_code == 200
    finally:
        _stop(proc)
