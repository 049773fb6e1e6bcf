"""The client against a ``modelyard server`` process that dies: killed with SIGKILL in the
middle of a load and started again on the same port and store. Clients retry; every point a
call acknowledged is stored, and none twice (each write's request id is claimed in the
write's own transaction). And asynchronous logging, flushed when the interpreter exits."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import modelyard
from modelyard.entities import Metric

from .conftest import Live


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(url: str, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(6000):  # polled; bounded so a broken start fails the test instead of hanging
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        threading.Event().wait(0.05)
    raise RuntimeError("the server did not become healthy")


class ServerProcess:
    def __init__(self, tmp_path: Path, store: str | None = None) -> None:
        """A server on ``store`` (default: a fresh SQLite file) and ``tmp_path``'s artifacts:
        two of them on one store are two replicas."""
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.store = store or f"sqlite:///{tmp_path / 'server' / 'modelyard.db'}"
        self.artifacts = str(tmp_path / "server-artifacts")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MODELYARD_TRACKING")}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "modelyard", "server", "--port", str(self.port),
             "--backend-store-uri", self.store, "--artifacts-destination", self.artifacts,
             "--auth", "none"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        _wait_healthy(self.url, self.proc)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=60)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=60)


@pytest.fixture
def server_process(tmp_path: Path) -> Iterator[ServerProcess]:
    server = ServerProcess(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_a_server_killed_mid_load_and_restarted_keeps_every_acknowledged_point_once(
    server_process: ServerProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELYARD_HTTP_RETRY_SECONDS", "120")
    client = modelyard.Client(server_process.url)
    experiment_id = client.create_experiment("killed")
    run_id = client.create_run(experiment_id).info.run_id
    single, batches, per_batch = 400, 40, 25
    acked: dict[str, list[int]] = {"single": [], "batch": []}
    failures: list[BaseException] = []
    progress = threading.Condition()

    def singles() -> None:
        try:
            for step in range(single):
                client.log_metric(run_id, "single", float(step), step=step)
                with progress:
                    acked["single"].append(step)
                    progress.notify_all()
        except BaseException as error:
            failures.append(error)

    def batched() -> None:
        try:
            for b in range(batches):
                steps = range(b * per_batch, (b + 1) * per_batch)
                client.log_batch(run_id, metrics=[Metric("batch", float(s), 0, s) for s in steps])
                with progress:
                    acked["batch"].extend(steps)
                    progress.notify_all()
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=singles), threading.Thread(target=batched)]
    for t in threads:
        t.start()
    with progress:  # kill while both writers are busy
        assert progress.wait_for(
            lambda: (
                (len(acked["single"]) >= 50 and len(acked["batch"]) >= 5 * per_batch) or failures
            ),
            timeout=300,
        )
    server_process.kill()
    killed_at = {k: len(v) for k, v in acked.items()}
    server_process.start()
    for t in threads:
        t.join(timeout=600)
    assert failures == []
    assert killed_at["single"] < single  # the kill did land in the middle of the load
    history = {key: [m.step for m in client.get_metric_history(run_id, key)] for key in acked}
    assert sorted(history["single"]) == sorted(acked["single"]) == list(range(single))
    assert sorted(history["batch"]) == sorted(acked["batch"]) == list(range(batches * per_batch))


def test_async_logging_is_flushed_when_the_interpreter_exits(
    open_server: Live, tmp_path: Path
) -> None:
    script = textwrap.dedent(
        """
        import modelyard
        modelyard.set_experiment("at-exit")
        run = modelyard.start_run()
        for step in range(3000):
            modelyard.log_metric("loss", float(step), step=step)
        print(run.info.run_id)
        """
    )
    env = dict(os.environ)
    env.update(MODELYARD_TRACKING_URI=open_server.url, MODELYARD_ASYNC_LOGGING="true")
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300,
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    run_id = done.stdout.strip().splitlines()[-1]
    client = modelyard.Client(open_server.url)
    assert [m.step for m in client.get_metric_history(run_id, "loss")] == list(range(3000))
    assert client.get_run(run_id).info.status.value == "FINISHED"
