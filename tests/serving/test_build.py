"""`modelyard build`: container files that are valid, and whose command serves the model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import yaml
from typer.testing import CliRunner

from modelyard.cli import app

from .conftest import Registered, free_port


def test_build_writes_files_whose_command_serves_the_model(registered: Registered, tmp_path: Path) -> None:
    out = tmp_path / "image"
    result = CliRunner().invoke(app, ["build", "models:/cancer@champion", "--output", str(out), "--json", "-t", registered.uri])
    assert result.exit_code == 0, result.output
    written = json.loads(result.output)
    assert written["models"] == {"models:/cancer@champion": "models/cancer-v1"}
    assert (out / "models" / "cancer-v1" / "modelyard.yaml").is_file()

    requirements = (out / "requirements.txt").read_text().splitlines()
    assert any(line.startswith("scikit-learn==") for line in requirements)
    assert all("==" in line for line in requirements if line and not line.startswith("#"))

    dockerfile = (out / "Dockerfile").read_text()
    assert dockerfile.startswith("# Written by") and "\nFROM python:3." in dockerfile
    assert "USER 10001" in dockerfile and "HEALTHCHECK" in dockerfile
    cmd_line = next(line for line in dockerfile.splitlines() if line.startswith("CMD "))
    command = json.loads(cmd_line[4:])
    assert command[:3] == ["modelyard", "serve", "deployment.yaml"]

    docs = list(yaml.safe_load_all((out / "kubernetes.yaml").read_text()))
    kinds = {d["kind"]: d for d in docs}
    assert set(kinds) == {"Deployment", "Service", "HorizontalPodAutoscaler"}
    deployment = kinds["Deployment"]
    pod = deployment["spec"]["template"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    container = pod["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    assert pod["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
    assert kinds["Service"]["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert kinds["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]

    # the image's command, run here in the build folder (a fresh home, no registry), serves the model
    port = free_port()
    argv = [sys.executable, "-m", "modelyard", *command[1:]]
    argv[argv.index("--port") + 1] = str(port)
    argv[argv.index("--host") + 1] = "127.0.0.1"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELYARD_")}
    env["MODELYARD_HOME"] = str(tmp_path / "container-home")
    proc = subprocess.Popen(argv, cwd=out, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/v2/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "the built command did not start serving"
            time.sleep(0.1)
        answer = httpx.post(f"{base}/invocations", json={"dataframe_records": registered.rows(2)}, timeout=10)
        expected = registered.client.load_model("models:/cancer/1").predict(registered.X.head(2)).tolist()
        assert answer.json() == {"predictions": expected}
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        if proc.stderr:
            proc.stderr.close()


def test_build_refuses_what_it_cannot_package(registered: Registered, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["build", "models:/cancer@nope", "--output", str(tmp_path / "x"), "-t", registered.uri])
    assert result.exit_code == 2 and "nope" in result.output


def test_build_with_server_adds_a_team_server_whose_command_runs(registered: Registered, tmp_path: Path) -> None:
    out = tmp_path / "image"
    result = CliRunner().invoke(app, ["build", "models:/cancer@champion", "--output", str(out), "--server", "--json", "-t", registered.uri])
    assert result.exit_code == 0, result.output
    assert '"modelyard[serve,postgres,s3]==' in (out / "Dockerfile").read_text()
    text = (out / "kubernetes.yaml").read_text()
    assert "kubectl create secret generic modelyard-server" in text
    docs = list(yaml.safe_load_all(text))
    assert sorted((d["kind"], d["metadata"]["name"]) for d in docs if d["metadata"]["name"] == "modelyard-server") == [
        ("Deployment", "modelyard-server"), ("Service", "modelyard-server"),
    ]
    server = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "modelyard-server")
    service = next(d for d in docs if d["kind"] == "Service" and d["metadata"]["name"] == "modelyard-server")
    assert service["spec"]["selector"] == server["spec"]["selector"]["matchLabels"]
    assert server["spec"]["replicas"] == 2  # stateless: replicas share the store named in the Secret
    container = server["spec"]["template"]["spec"]["containers"][0]
    assert container["envFrom"] == [{"secretRef": {"name": "modelyard-server"}}]
    assert container["readinessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    command = container["command"]
    assert command[:2] == ["modelyard", "server"] and command[command.index("--auth") + 1] == "token"

    # the Deployment's command, with the Secret's variables, answers its probe
    port = free_port()
    argv = [sys.executable, "-m", "modelyard", *command[1:]]
    argv[argv.index("--port") + 1] = str(port)
    argv[argv.index("--host") + 1] = "127.0.0.1"
    argv[argv.index("--workers") + 1] = "1"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELYARD_")}
    env["MODELYARD_HOME"] = str(tmp_path / "server-home")
    env["MODELYARD_TRACKING_URI"] = f"sqlite:///{tmp_path / 'server-store' / 'modelyard.db'}"
    env["MODELYARD_ARTIFACT_URI"] = str(tmp_path / "server-artifacts")
    proc = subprocess.Popen(argv, cwd=out, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "the server's command did not start"
            time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        if proc.stderr:
            proc.stderr.close()
