"""The scheduler: each firing runs exactly once — with two schedulers racing, and across a
scheduler killed mid-run (its run is taken over when the lease expires)."""

from __future__ import annotations

import datetime as _dt
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import update

from modelyard.core.errors import ValidationError
from modelyard.pipelines import Scheduler, check_cron, load_file
from modelyard.registry import Client
from modelyard.store._schema import schedules

PIPELINES = textwrap.dedent(
    """
    import os, time
    from modelyard.pipelines import Schedule, pipeline, step

    @step
    def slow(marker: str) -> str:
        first = not os.path.exists(marker)
        with open(marker, "a") as f:
            f.write(f"{os.getpid()}\\n")
        if first:
            time.sleep(120)  # the first attempt is killed here
        return "done"

    @pipeline
    def nightly(marker: str = "marker.txt") -> str:
        return slow(marker)

    every_minute = Schedule("every-minute", "nightly", "* * * * *", {"marker": MARKER})
    """
)


def _backdate(store_uri: str, name: str, seconds: int) -> None:
    client = Client(store_uri)
    with client.store._engines.write.begin() as conn:
        conn.execute(update(schedules).where(schedules.c.name == name).values(created_time=int((time.time() - seconds) * 1000)))


def test_cron_expressions_are_checked() -> None:
    assert check_cron("*/5 * * * 1-5") == "*/5 * * * 1-5"
    with pytest.raises(ValidationError, match="3 field.*give 5"):
        check_cron("* * *")
    with pytest.raises(ValidationError, match="'61' is not a valid minute"):
        check_cron("61 * * * *")
    with pytest.raises(ValidationError, match="'mon-xyz' is not a valid day-of-week"):
        check_cron("0 0 * * mon-xyz")


def test_two_schedulers_run_each_firing_once(tmp_path: Path) -> None:
    uri = str(tmp_path / "store")
    (tmp_path / "defs.py").write_text(PIPELINES.replace("MARKER", repr(str(tmp_path / "never-used.txt"))))
    pipelines, _ = load_file(tmp_path / "defs.py")
    marker = tmp_path / "fast.txt"
    marker.write_text("warm\n")  # not the first attempt: no sleep
    a = Scheduler(pipelines, tracking_uri=uri, owner="a")
    b = Scheduler(pipelines, tracking_uri=uri, owner="b")
    a.schedule("fast", "nightly", "*/10 * * * *", {"marker": str(marker)})
    _backdate(uri, "fast", 3600)
    now = _dt.datetime.now(_dt.UTC)
    results: dict[str, list[str]] = {}
    threads = [threading.Thread(target=lambda s=s: results.__setitem__(s.owner, s.tick(now))) for s in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(len(v) for v in results.values()) == [0, 1]
    runs = Client(uri).store.pipelines.runs("nightly")
    assert len(runs) == 1 and runs[0].status == "succeeded" and runs[0].firing_key is not None
    assert a.tick(now) == [] and b.tick(now) == []  # the same firing never runs again
    with pytest.raises(ValidationError, match="pipeline 'nope' is unknown"):
        a.schedule("x", "nope", "* * * * *")


def test_a_killed_scheduler_loses_no_run_and_doubles_none(tmp_path: Path) -> None:
    uri = str(tmp_path / "store")
    marker = tmp_path / "marker.txt"
    (tmp_path / "defs.py").write_text(PIPELINES.replace("MARKER", repr(str(marker))))
    env = {**os.environ, "MODELYARD_TRACKING_URI": uri, "MODELYARD_HOME": str(tmp_path / "home")}
    # register the schedule and make its first firing due
    pipelines, found = load_file(tmp_path / "defs.py")
    Scheduler(pipelines, tracking_uri=uri).schedule(found[0].name, found[0].pipeline, found[0].cron, found[0].params)
    _backdate(uri, "every-minute", 90)
    proc = subprocess.Popen(
        [sys.executable, "-m", "modelyard", "scheduler", str(tmp_path / "defs.py"), "--once", "--lease", "2"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert proc.poll() is None and time.monotonic() < deadline, "the scheduler did not start the run"
            time.sleep(0.1)
        os.kill(proc.pid, signal.SIGKILL)  # mid-run
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    store = Client(uri).store.pipelines
    [held] = store.runs("nightly")
    assert held.status in ("claimed", "running") and held.attempts == 1
    # a new scheduler takes the run over once its lease (2 s, no longer renewed) has expired
    fresh = Scheduler(pipelines, tracking_uri=uri, lease_seconds=2)
    time.sleep(2.5)
    assert fresh.tick() == [held.run_id]
    [done] = store.runs("nightly")
    assert done.run_id == held.run_id and done.status == "succeeded" and done.attempts == 2
    assert len(marker.read_text().split()) == 2  # killed once, finished once
    assert fresh.tick() == []  # nothing lost, nothing doubled
    assert len(store.runs("nightly")) == 1


def test_monitoring_on_a_schedule(tmp_path: Path) -> None:
    uri = str(tmp_path / "store")
    (tmp_path / "watch.py").write_text(
        textwrap.dedent(
            """
            from modelyard.pipelines import MonitorSchedule, pipeline, step

            @step
            def noop() -> int:
                return 1

            @pipeline
            def retrain() -> int:
                return noop()

            hourly = MonitorSchedule("credit-hourly", "credit", "0 * * * *", window="1h",
                                     alerts=[{"rule": "drift_share > 0.3", "actions": [{"trigger": "retrain"}]}])
            """
        )
    )
    pipelines, schedules = load_file(tmp_path / "watch.py")
    assert "monitor:credit" in pipelines and [s.pipeline for s in schedules] == ["monitor:credit"]
    sched = Scheduler(pipelines, tracking_uri=uri)
    for s in schedules:
        sched.schedule(s.name, s.pipeline, s.cron, s.params)
    _backdate(uri, "credit-hourly", 3 * 3600)
    [run_id] = sched.tick()
    assert sched.tick() == []
    assert "MODELYARD_TRACKING_URI" not in os.environ  # set for the step only
    client = Client(uri)
    row = client.store.pipelines.get_run(run_id)
    assert row is not None and row.pipeline == "monitor:credit" and row.status == "succeeded"
    points = client.store.monitoring.points("credit", "requests")
    assert len(points) == 1 and points[0].value == 0.0  # an empty window is recorded, not an error
    (tmp_path / "bad.py").write_text(
        "from modelyard.pipelines import MonitorSchedule\nw = MonitorSchedule('w', 'credit', '0 * * *')\n"
    )
    with pytest.raises(ValidationError, match="4 field"):
        load_file(tmp_path / "bad.py")
    (tmp_path / "bad2.py").write_text(
        "from modelyard.pipelines import MonitorSchedule\nw = MonitorSchedule('w', 'credit', '0 * * * *', alerts=[{'rule': 'auc < 0.7', 'actions': [{'trigger': 'nope'}]}])\n"
    )
    with pytest.raises(ValidationError, match="trigger 'nope' is unknown"):
        load_file(tmp_path / "bad2.py")
