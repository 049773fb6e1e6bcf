"""Pipelines on a real Ray cluster on this machine: a head node with no CPUs (so steps land on
the workers) and two worker nodes, each started by ``ray start --block`` in a session of its
own, with its own temp dir. A worker node killed mid-step (its whole session, SIGKILL): the
step runs again on the other worker and the run is recorded once, through a team server; the
steps ask for their resources; the pipeline file's neighbour module reaches the workers only
because it is shipped. One cluster for the module; every process of it is killed at the end."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cloudpickle
import pytest
from typer.testing import CliRunner

from modelyard.cli import app
from modelyard.core.entities import RunStatus
from modelyard.pipelines import load_file
from modelyard.registry import Client
from modelyard.server import ServerConfig, build_state, create_app
from modelyard.server.auth import create_user

from ..server.live import serve

pytest.importorskip("ray", reason="the ray extra is not installed (pip install 'modelyard[ray]')")
pytestmark = pytest.mark.skipif(
    not Path("/proc/self/stat").exists(),
    reason="a node's processes are found through /proc (Linux)",
)

PROJECT = Path(__file__).parent / "ray_project"
WAIT = 120.0  # seconds any one condition may take on a busy machine before the test fails


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _until(condition: Callable[[], Any], what: str, timeout: float = WAIT) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def _session_processes(session: int) -> list[int]:
    """The live processes whose session is ``session`` (a node: ``ray start`` and all it
    spawned); zombies left for a parent to reap are dead already."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                state, _, _, sid = (
                    Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[:4]
                )
            except (OSError, ValueError):
                continue
            if int(sid) == session and state != "Z":
                found.append(int(entry))
    return found


@dataclass
class Node:
    name: str
    process: subprocess.Popen[bytes]
    temp_dir: Path

    @property
    def session(self) -> int:
        return self.process.pid  # started with start_new_session: its pid is its session's id

    def kill(self) -> None:
        """SIGKILL every process of the node: raylet, agents, workers, ``ray start`` itself."""
        for pid in _session_processes(self.session):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait(timeout=WAIT)
        _until(
            lambda: not _session_processes(self.session), f"node {self.name}'s processes to exit"
        )


@dataclass
class Cluster:
    address: str
    root: Path
    env: dict[str, str]
    nodes: list[Node] = field(default_factory=list)

    def start(self, name: str, *args: str) -> Node:
        temp = self.root / name
        log = (self.root / f"{name}.log").open("wb")
        ray = (
            shutil.which("ray", path=str(Path(sys.executable).parent))
            or shutil.which("ray")
            or "ray"
        )
        ports = [
            f"--{flag}={_free_port()}"
            for flag in (
                "dashboard-agent-listen-port",
                "dashboard-agent-grpc-port",
                "runtime-env-agent-port",
                "metrics-export-port",
            )
        ]
        command = [
            str(ray), "start", "--block", "--node-ip-address=127.0.0.1", f"--temp-dir={temp}", *ports,
            "--object-store-memory=80000000", "--min-worker-port=0", "--max-worker-port=0",
            "--include-log-monitor=false", "--disable-usage-stats", *args,
        ]  # fmt: skip
        process = subprocess.Popen(
            command, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        self.nodes.append(Node(name, process, temp))
        return self.nodes[-1]

    def start_worker(self) -> Node:
        name = f"worker{sum(n.name.startswith('worker') for n in self.nodes) + 1}"
        return self.start(
            name, f"--address={self.address}", "--num-cpus=1", '--resources={"shelf": 1}'
        )

    def workers(self) -> list[Node]:
        return [n for n in self.nodes if n.name.startswith("worker") and n.process.poll() is None]

    def node_of(self, session: int) -> Node:
        return next(n for n in self.nodes if n.session == session)

    def alive(self) -> dict[str, dict[str, float]]:
        """The nodes the cluster's GCS holds alive: node id -> total resources."""
        from ray._raylet import GcsClient

        info = GcsClient(address=self.address).get_all_node_info(timeout=10)
        return {
            node_id.hex(): dict(n.resources_total) for node_id, n in info.items() if n.state == 0
        }

    def wait_for_workers(self, count: int) -> None:
        _until(
            lambda: sum("CPU" in r for r in self.alive().values()) == count, f"{count} worker nodes"
        )

    def stop(self) -> None:
        for node in self.nodes:
            node.kill()


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    # short: Ray's socket paths have a length limit
    root = Path(tempfile.mkdtemp(prefix="modelyard-ray-", dir="/tmp"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MODELYARD_", "RAY_"))}
    # a killed node is declared dead after ~1.5 s instead of ~15 s (the cluster's setting, not
    # modelyard's): its port refuses the checks at once, 3 in a row. A live node that answers
    # late (a loaded machine starving it of CPU) has 10 s per check, so it is never taken for dead
    env.update(
        RAY_health_check_period_ms="500",
        RAY_health_check_failure_threshold="3",
        RAY_health_check_timeout_ms="10000",
    )
    # token auth off, whatever ~/.ray/auth_token holds: `ray start` turns it on when that file
    # exists, and a driver given an explicit address does not (Ray's defaults)
    env["RAY_AUTH_MODE"] = "disabled"
    made = Cluster(f"127.0.0.1:{_free_port()}", root, env)
    client_port: list[str] = []
    from ray._private.utils import get_ray_client_dependency_error

    # Ray Client installed: keep it off its fixed default port
    if get_ray_client_dependency_error() is None:
        client_port.append(f"--ray-client-server-port={_free_port()}")
    try:
        made.start(
            "head", "--head", f"--port={made.address.rsplit(':', 1)[1]}", "--num-cpus=0", "--include-dashboard=false",
            f"--dashboard-port={_free_port()}", *client_port,
        )  # fmt: skip
        _until(lambda: made.nodes[0].process.poll() is None and made.alive(), "the head node")
        made.start_worker()
        made.start_worker()
        made.wait_for_workers(2)
        yield made
    finally:
        made.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def team_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A team server with token auth on a loopback port; this process holds an editor's token."""
    state = build_state(
        ServerConfig(
            backend_store_uri=f"sqlite:///{tmp_path / 'server' / 'modelyard.db'}",
            artifacts_destination=str(tmp_path / "server-artifacts"),
            auth="token",
        )
    )
    monkeypatch.setenv(
        "MODELYARD_TRACKING_TOKEN", create_user(state.store.users, "runner", "editor")[1]
    )
    with serve(create_app(state=state)) as url:
        yield url


def test_a_node_killed_mid_step_the_step_runs_again_elsewhere_and_the_run_is_recorded_once(
    cluster: Cluster, team_server: str, tmp_path: Path
) -> None:
    for _ in range(2 - len(cluster.workers())):  # an earlier test may have killed one
        cluster.start_worker()
    cluster.wait_for_workers(2)
    pipelines, _ = load_file(PROJECT / "flows.py")
    marker, run_id = tmp_path / "attempts.jsonl", uuid.uuid4().hex
    store = Client(team_server).store.pipelines
    seen: dict[str, Any] = {}

    def kill_the_node_of_the_first_attempt() -> None:
        first = json.loads(
            _until(
                lambda: marker.exists() and marker.read_text().splitlines(), "the first attempt"
            )[0]
        )
        seen["lease_before"] = store.get_run(run_id).lease_expires
        seen["killed"] = cluster.node_of(first["session"])
        seen["killed"].kill()

        def renewed() -> int | None:  # while Ray runs the step again: never taken for abandoned
            row = store.get_run(run_id)
            return (
                row.lease_expires
                if row
                and row.status == "running"
                and (row.lease_expires or 0) > seen["lease_before"]
                else None
            )

        seen["lease_during"] = _until(renewed, "a renewed lease")

    killer = threading.Thread(target=kill_the_node_of_the_first_attempt, daemon=True)
    killer.start()
    result = pipelines["survive"].run(
        engine="ray",
        ray_address=cluster.address,
        tracking_uri=team_server,
        run_id=run_id,
        lease_seconds=3.0,
        n=10,
        marker=str(marker),
    )
    killer.join(timeout=WAIT)
    assert result.status == "succeeded" and result.output == 110  # 2 * (1 + ... + 10)
    attempts = [json.loads(line) for line in marker.read_text().splitlines()]
    assert len(attempts) == 2 and attempts[0]["node"] != attempts[1]["node"]
    assert cluster.node_of(attempts[0]["session"]) is seen["killed"]
    # the other worker, still up
    assert cluster.node_of(attempts[1]["session"]) in cluster.workers()
    assert "lease_during" in seen
    # recorded once: one row per step, the run finished by its first (and only) runner
    row = store.get_run(run_id)
    assert row.status == "succeeded" and row.attempts == 1
    assert [(s.step, s.status) for s in store.steps(run_id)] == [
        ("numbers", "ran"),
        ("add_up", "ran"),
        ("doubled", "ran"),
    ]
    # the tracking run of the attempt that finished is the step's; the killed attempt's is ended KILLED
    client = Client(team_server)
    runs = {
        r.data.params["attempt"]: r
        for r in client.search_runs([e.experiment_id for e in client.search_experiments()], "")
    }
    assert set(runs) == {attempts[0]["attempt"], attempts[1]["attempt"]}
    kept, killed = runs[attempts[1]["attempt"]], runs[attempts[0]["attempt"]]
    assert result.step("add_up").links["runs"] == [kept.info.run_id]
    assert kept.info.status == RunStatus.FINISHED and kept.data.metrics["total"] == 55
    assert killed.info.status == RunStatus.KILLED
    # the cluster outlives the run (the runner only disconnected), and the step cache is the server's
    alive = cluster.alive()
    assert attempts[1]["node"] in alive and any(
        "node:__internal_head__" in r for r in alive.values()
    )
    again = pipelines["survive"].run(
        engine="ray",
        ray_address=cluster.address,
        tracking_uri=team_server,
        n=10,
        marker=str(marker),
    )
    assert [s.status for s in again.steps] == ["cached", "cached", "cached"] and again.output == 110


def test_the_cli_runs_a_pipeline_file_on_the_cluster_with_the_resources_its_steps_ask_for(
    cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster.wait_for_workers(len(cluster.workers()))
    store = str(tmp_path / "store")
    runner = CliRunner()
    ran = runner.invoke(
        app,
        [
            "pipelines",
            "run",
            str(PROJECT / "flows.py"),
            "where",
            "-p",
            "label=shelf",
            "--engine",
            "ray",
            "--ray-address",
            cluster.address,
            "-t",
            store,
            "--json",
        ],
    )
    assert ran.exit_code == 0, ran.output
    digest = json.loads(ran.output)["steps"][0]["output"]
    placed = cloudpickle.loads(Client(store).blobs.get_bytes(digest))
    # the step's declared resources, as Ray granted them; the neighbour module was shipped
    assert placed["assigned"] == {"CPU": 0.5, "memory": 64 * 1024**2, "shelf": 0.25}
    assert placed["label"] == "SHELF!" and cluster.node_of(placed["session"]) in cluster.workers()
    # $RAY_ADDRESS is the default address
    monkeypatch.setenv("RAY_ADDRESS", cluster.address)
    pipelines, _ = load_file(PROJECT / "flows.py")
    again = pipelines["where"].run(engine="ray", tracking_uri=store, label="env")
    assert (
        again.output["label"] == "ENV!"
        and cluster.node_of(again.output["session"]) in cluster.workers()
    )
    bad = runner.invoke(
        app,
        [
            "pipelines",
            "run",
            str(PROJECT / "flows.py"),
            "where",
            "--engine",
            "ray",
            "--ray-address",
            "http://head:8265",
            "-t",
            store,
        ],
    )
    assert bad.exit_code == 2 and "ray_address" in bad.output and "host:port" in bad.output


def test_an_exception_a_step_raises_on_the_cluster_is_not_retried(
    cluster: Cluster, tmp_path: Path
) -> None:
    store, marker = str(tmp_path / "store"), tmp_path / "boom.jsonl"
    pipelines, _ = load_file(PROJECT / "flows.py")
    with pytest.raises(RuntimeError, match="the step's own error"):
        pipelines["fails"].run(
            engine="ray", ray_address=cluster.address, tracking_uri=store, marker=str(marker)
        )
    assert (
        len(marker.read_text().splitlines()) == 1
    )  # one attempt: Ray retries system failures only
    row = Client(store).store.pipelines.runs("fails")[0]
    assert row.status == "failed" and "the step's own error" in (row.error or "")
