"""Pipeline runs across processes: the step cache is shared between processes (newcomer bug
1), and a run whose process was killed shows as abandoned once its lease expires (R7)."""

from __future__ import annotations

import datetime as _dt
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from typer.testing import CliRunner

from modelyard.cli import app
from modelyard.pipelines import Scheduler, load_file
from modelyard.registry import Client
from modelyard.store._pipeline_store import ABANDONED
from modelyard.store._schema import pipeline_runs

PIPELINES = textwrap.dedent(
    """
    import os, time
    from modelyard.pipelines import pipeline, step

    @step
    def columns(names: set, weeks: list) -> list:
        return sorted(names) + [str(w) for w in weeks]

    @step
    def count(cols: list, options: dict) -> int:
        return len(cols) + len(options)

    @pipeline
    def retrain(weeks: list = [1, 2, 3]) -> int:
        return count(columns({"income", "debt_ratio", "age", "open_loans", "credit_years"}, weeks),
                     {"features": frozenset({"a", "b", "c"}), "seed": 7})

    @step
    def stuck(marker: str, prepared: list) -> str:
        first = not os.path.exists(marker)
        with open(marker, "a") as f:
            f.write(f"{os.getpid()}\\n")
        if first:
            time.sleep(120)  # the first attempt is killed here
        return "done"

    @pipeline
    def hangs(marker: str = "marker.txt") -> str:
        return stuck(marker, columns({"a", "b", "c", "d"}, [1]))
    """
)


def _cli(tmp_path: Path, *args: str, seed: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "MODELYARD_HOME": str(tmp_path / "home"),
        "PYTHONHASHSEED": seed,  # a different salt per process, as without the variable
    }
    return subprocess.Popen(
        [sys.executable, "-m", "modelyard", "pipelines", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_second_process_reuses_every_step(tmp_path: Path) -> None:
    """The module name of a loaded file came from hash(), salted per process, and set inputs
    pickled in hash order: every step ran again in a new process."""
    (tmp_path / "defs.py").write_text(PIPELINES)
    uri = str(tmp_path / "store")
    statuses = []
    for seed in ("1", "2"):
        proc = _cli(
            tmp_path, "run", str(tmp_path / "defs.py"), "retrain", "--json", "-t", uri, seed=seed
        )
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err[-2000:]
        statuses.append([s["status"] for s in json.loads(out)["steps"]])
    assert statuses == [["ran", "ran"], ["cached", "cached"]]
    # and the same file loaded here (yet another salt) hits the cache too
    pipelines, _ = load_file(tmp_path / "defs.py")
    again = pipelines["retrain"].run(tracking_uri=uri)
    assert [s.status for s in again.steps] == ["cached", "cached"] and again.output == 10


def test_a_killed_run_shows_as_abandoned_once_its_lease_expires(tmp_path: Path) -> None:
    """R7: a `pipelines run` killed with SIGKILL stayed "running" for good."""
    (tmp_path / "defs.py").write_text(PIPELINES)
    uri = str(tmp_path / "store")
    marker = tmp_path / "marker.txt"
    proc = _cli(
        tmp_path,
        "run",
        str(tmp_path / "defs.py"),
        "hangs",
        "-p",
        f"marker={marker}",
        "-t",
        uri,
        seed="3",
    )
    try:
        while not marker.exists():  # polled: the second step has begun
            assert proc.poll() is None, proc.communicate()[1][-2000:]
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    store = Client(uri).store.pipelines
    with store._engines.read.connect() as conn:  # the raw row, before any read marks it
        raw = conn.execute(pipeline_runs.select()).one()
    assert raw.status == "running" and raw.lease_expires is not None
    expires = raw.lease_expires
    # before the lease expires it is still running (its runner might be alive) ...
    before = store.get_run(raw.run_id, now=expires - 1)
    assert before is not None and before.status == "running"
    # ... at the first read after, it is abandoned, dated when its lease ran out
    [after] = store.runs("hangs", now=expires + 1)
    assert after.status == ABANDONED and after.ended_time == expires
    assert "stopped renewing the lease" in (after.error or "")
    listed = CliRunner().invoke(app, ["pipelines", "runs", "--json", "-t", uri])
    assert [r["status"] for r in json.loads(listed.stdout)] == [ABANDONED]
    # a scheduler takes over only its schedules' runs: a manual run stays abandoned ...
    pipelines, _ = load_file(tmp_path / "defs.py")
    assert Scheduler(pipelines, tracking_uri=uri, clock=lambda: _at(expires + 60_000)).tick() == []
    assert store.get_run(raw.run_id, now=expires + 60_000).status == ABANDONED  # type: ignore[union-attr]
    # ... and running it again (here, another process) reuses what the killed run finished
    rerun = pipelines["hangs"].run(tracking_uri=uri, marker=str(marker))
    assert [s.status for s in rerun.steps] == ["cached", "ran"] and rerun.output == "done"
    assert [(s.step, s.status) for s in store.steps(raw.run_id)] == [("columns", "ran")]


def test_a_late_runner_takes_its_run_back_and_a_dead_one_is_taken_over(tmp_path: Path) -> None:
    store = Client(str(tmp_path / "store")).store.pipelines
    t = 1_800_000_000_000
    store.create_run(
        "manual1",
        "p",
        trigger="manual",
        params={},
        engine="inprocess",
        owner="me",
        lease_ms=1000,
        now=t,
    )
    assert store.runs(now=t + 1001)[0].status == ABANDONED
    assert store.renew("manual1", "me", 1000, now=t + 1500)  # only late: back to running
    row = store.get_run("manual1", now=t + 1500)
    assert (
        row is not None and row.status == "running" and row.ended_time is None and row.error is None
    )
    assert not store.take_over(
        "manual1", "scheduler", 1000, now=t + 9000
    )  # manual: never taken over
    assert store.finish("manual1", "me", "succeeded", now=t + 9000)
    store.create_run(
        "sched1",
        "p",
        trigger="schedule:s",
        params={},
        engine="inprocess",
        owner="dead",
        lease_ms=1000,
        firing_key="schedule:s:x",
        now=t,
    )
    assert [r.run_id for r in store.abandoned(now=t + 1001)] == ["sched1"]
    assert store.take_over("sched1", "scheduler", 1000, now=t + 1001)
    assert not store.take_over("sched1", "other", 1000, now=t + 1002)  # one winner
    assert not store.renew("sched1", "dead", 1000, now=t + 1003)  # the old holder lost it
    assert not store.finish("sched1", "dead", "succeeded", now=t + 1003)
    taken = store.get_run("sched1", now=t + 1003)
    assert taken is not None and (taken.status, taken.lease_owner, taken.attempts) == (
        "claimed",
        "scheduler",
        2,
    )


def _at(ms: int) -> _dt.datetime:
    return _dt.datetime.fromtimestamp(ms / 1000, _dt.UTC)
