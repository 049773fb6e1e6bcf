"""Nothing is lost: many processes at once on a brand-new store, and a killed logger."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import modelyard

WRITER = textwrap.dedent(
    """
    import json, sys
    import modelyard as my
    uri, points = sys.argv[1], int(sys.argv[2])
    print("ready", flush=True)
    sys.stdin.readline()  # the start barrier: every writer is loaded, then all go at once
    try:
        my.set_tracking_uri(uri)
        my.set_experiment("concurrent")
        with my.start_run() as run:
            for i in range(points):
                my.log_metric("m", float(i), step=i)
        print(json.dumps({"ok": True, "run_id": run.info.run_id}))
    except Exception as error:
        print(json.dumps({"ok": False, "error": repr(error)}))
        sys.exit(1)
    """
)


def start_together(commands: list[list[str]], env: dict[str, str]) -> list[subprocess.Popen[str]]:
    """Start the processes, wait until each has printed "ready", then release them all at once
    (a barrier on their stdin: no wall-clock start time to miss on a loaded machine)."""
    procs = [
        subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for command in commands
    ]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready", proc.communicate()[1][-2000:]
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    return procs


def test_eight_processes_start_together_on_a_new_store(store_url: str, tmp_path: Path) -> None:
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    env = {**os.environ, "MODELYARD_ARTIFACT_URI": str(tmp_path / "artifacts")}
    procs = start_together([[sys.executable, str(script), store_url, "200"] for _ in range(8)], env)
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, f"writer failed: {out} {err[-2000:]}"
        results.append(json.loads(out.strip().splitlines()[-1]))
    client = modelyard.Client(store_url, artifact_uri=str(tmp_path / "artifacts"))
    experiments = client.search_experiments()
    assert [e.name for e in experiments] == ["concurrent"]
    for result in results:
        history = client.get_metric_history(result["run_id"], "m")
        assert [m.step for m in history] == list(range(200))
    assert len(client.search_runs([experiments[0].experiment_id])) == 8


KILLED = textwrap.dedent(
    """
    import sys
    import modelyard as my
    my.set_tracking_uri(sys.argv[1])
    with my.start_run() as run:
        print(run.info.run_id, flush=True)
        i = 0
        while True:
            my.log_metric("m", float(i), step=i)
            print(i, flush=True)  # reported only after log_metric returned
            i += 1
    """
)


def test_every_returned_point_survives_kill_9(tmp_path: Path) -> None:
    script = tmp_path / "killed.py"
    script.write_text(KILLED)
    uri = f"sqlite:///{tmp_path}/kill.db"
    proc = subprocess.Popen(
        [sys.executable, str(script), uri],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "MODELYARD_ARTIFACT_URI": str(tmp_path / "a")},
    )
    assert proc.stdout is not None
    run_id = proc.stdout.readline().strip()
    last = -1
    while last < 2000:
        line = proc.stdout.readline()
        last = int(line)
    os.kill(proc.pid, signal.SIGKILL)
    for line in proc.stdout:  # drain what was printed before the kill
        if line.strip():
            last = int(line)
    proc.stdout.close()
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    steps = [m.step for m in modelyard.Client(uri).get_metric_history(run_id, "m")]
    assert steps[: last + 1] == list(range(last + 1)), "a point whose call had returned was lost"
    assert len(steps) >= last + 1
