"""`modelyard serve` as users run it: a separate process, two workers, metrics summed across them."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from typer.testing import CliRunner

from modelyard.cli import app

from .conftest import Registered, free_port


def test_serve_with_two_workers(registered: Registered, tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "MODELYARD_TRACKING_URI": registered.uri}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "modelyard", "serve", "models:/cancer@champion", "--port", str(port), "--workers", "2"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/v2/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline
            time.sleep(0.1)
        body = {"records": registered.rows(1)}
        for _ in range(40):  # new connections: both workers take some
            assert httpx.post(f"{base}/v1/endpoints/cancer/predict", json=body, timeout=10).status_code == 200
        # each worker adds its counts to the shared files every 0.5 s: poll for all 40
        deadline = time.monotonic() + 30
        while True:
            metrics = httpx.get(f"{base}/metrics", timeout=10).text
            found = re.search(r'modelyard_requests_total\{endpoint="cancer",route="champion",status="200",version="1"\} (\S+)', metrics)
            if (found is not None and float(found.group(1)) == 40.0) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert found is not None and float(found.group(1)) == 40.0, metrics[:2000]
        assert "modelyard_model_load_seconds" in metrics
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        if proc.stderr:
            proc.stderr.close()


def test_serve_applies_the_read_timeouts_of_the_deployment(registered: Registered, tmp_path: Path) -> None:
    """`modelyard serve` runs its workers with the deployment's header timeout: a client that
    never finishes its headers gets a 408 and is closed; others are served."""
    target = tmp_path / "deployment.yaml"
    target.write_text(
        json.dumps(
            {
                "endpoints": [{"name": "cancer", "routes": [{"model": "models:/cancer@champion"}]}],
                "header_timeout_seconds": 0.5,
                "body_timeout_seconds": 0.5,
                "max_connections": 50,
            }
        )
    )
    port = free_port()
    env = {**os.environ, "MODELYARD_TRACKING_URI": registered.uri}
    proc = subprocess.Popen(
        [sys.executable, "-m", "modelyard", "serve", str(target), "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/v2/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline
            time.sleep(0.1)
        with socket.create_connection(("127.0.0.1", port)) as slow:
            slow.sendall(b"POST /v1/endpoints/cancer/predict HTTP/1.1\r\nhost: x\r\nx-slow: ")
            slow.settimeout(30)
            received = b""
            while chunk := slow.recv(4096):  # ends when the server closes the connection
                received += chunk
        assert received.startswith(b"HTTP/1.1 408")
        answer = httpx.post(f"{base}/v1/endpoints/cancer/predict", json={"records": registered.rows(1)}, timeout=10)
        assert answer.status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        if proc.stderr:
            proc.stderr.close()


def test_serve_refuses_a_bad_target_before_starting(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["serve", str(tmp_path / "missing.yaml")])
    assert result.exit_code == 2 and "does not exist" in result.output


def test_token_create_prints_the_hash_entry() -> None:
    from modelyard.serving import hash_token

    result = CliRunner().invoke(app, ["token", "create", "--name", "web", "--scope", "predict", "--scope", "feedback", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["entry"] == {"name": "web", "sha256": hash_token(data["token"]), "scopes": ["predict", "feedback"]}
    bad = CliRunner().invoke(app, ["token", "create", "--scope", "admin"])
    assert bad.exit_code == 2 and "admin" in bad.output


def test_a_worker_freezes_what_it_loaded_out_of_the_garbage_collectors_walk(registered: Registered) -> None:
    """A `modelyard serve` worker moves everything alive after loading (imports, models) out of
    the cyclic collector's reach, so full collections walk only what requests create."""
    code = (
        "import gc\n"
        "import modelyard.serving._main as worker\n"
        "print(gc.get_freeze_count(), len(gc.get_objects(generation=2)))\n"
    )
    env = {**os.environ, "MODELYARD_SERVE_TARGET": "models:/cancer@champion", "MODELYARD_TRACKING_URI": registered.uri}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    frozen, oldest = map(int, out.stdout.split())
    assert frozen > 100_000  # the imports and the model
    assert oldest < frozen // 10  # nothing of it left for a full collection to walk
