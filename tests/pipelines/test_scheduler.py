"""The scheduler: each firing runs exactly once — with two schedulers racing, and across a
scheduler killed mid-run (its run is taken over when the lease expires). Time comes from an
injected clock: no test waits for a lease to expire, and none depends on the minute it runs in."""

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
    def prepare(marker: str, columns: set) -> str:
        with open(marker + ".prepare", "a") as f:
            f.write(f"{os.getpid()}\\n")
        return ",".join(sorted(columns))

    @step
    def slow(marker: str, prepared: str) -> str:
        first = not os.path.exists(marker)
        with open(marker, "a") as f:
            f.write(f"{os.getpid()}\\n")
        if first:
            time.sleep(120)  # the first attempt is killed here
        return "done " + prepared

    @pipeline
    def nightly(marker: str = "marker.txt") -> str:
        return slow(marker, prepare(marker, {"income", "debt_ratio", "age", "open_loans"}))

    every_minute = Schedule("every-minute", "nightly", "* * * * *", {"marker": MARKER})
    """
)

T0 = _dt.datetime(2026, 11, 30, 12, 0, 10, tzinfo=_dt.UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: _dt.datetime) -> None:
        self.now = now

    def __call__(self) -> _dt.datetime:
        return self.now

    def at(self, ms: int) -> Clock:
        self.now = _dt.datetime.fromtimestamp(ms / 1000, _dt.UTC)
        return self


def _ms(moment: _dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


def _backdate(store_uri: str, name: str, seconds: int) -> None:
    """Make a schedule older by ``seconds`` of wall time, for a scheduler in a subprocess
    (which reads the wall clock) to find a firing due."""
    client = Client(store_uri)
    with client.store._engines.write.begin() as conn:
        conn.execute(update(schedules).where(schedules.c.name == name).values(created_time=schedules.c.created_time - seconds * 1000))


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
    clock = Clock(T0)
    a = Scheduler(pipelines, tracking_uri=uri, owner="a", clock=clock)
    b = Scheduler(pipelines, tracking_uri=uri, owner="b", clock=clock)
    a.schedule("fast", "nightly", "*/10 * * * *", {"marker": str(marker)})
    clock.now = T0 + _dt.timedelta(hours=1)
    results: dict[str, list[str]] = {}
    threads = [threading.Thread(target=lambda s=s: results.__setitem__(s.owner, s.tick())) for s in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(len(v) for v in results.values()) == [0, 1]
    runs = Client(uri).store.pipelines.runs("nightly", now=_ms(clock.now))
    assert len(runs) == 1 and runs[0].status == "succeeded"
    assert runs[0].firing_key == "schedule:fast:2026-11-30T13:00"  # the latest firing (catch_up=1)
    assert a.tick() == [] and b.tick() == []  # the same firing never runs again
    with pytest.raises(ValidationError, match="pipeline 'nope' is unknown"):
        a.schedule("x", "nope", "* * * * *")


def test_a_tick_past_a_minute_boundary_takes_over_and_fires_each_minute_once(tmp_path: Path) -> None:
    """The CI flake (newcomer §1): the run of minute 12:01 is abandoned by a killed scheduler;
    a scheduler ticking at 12:02:01 takes it over and fires 12:02 — exactly these two, every
    time, whatever the wall clock says."""
    uri = str(tmp_path / "store")
    marker = tmp_path / "marker.txt"
    marker.write_text("warm\n")
    (tmp_path / "defs.py").write_text(PIPELINES.replace("MARKER", repr(str(marker))))
    pipelines, found = load_file(tmp_path / "defs.py")
    clock = Clock(T0)
    first = Scheduler(pipelines, tracking_uri=uri, owner="first", lease_seconds=2, clock=clock)
    first.schedule(found[0].name, found[0].pipeline, found[0].cron, found[0].params)
    store = Client(uri).store.pipelines
    dying = _ms(T0.replace(minute=1, second=58, microsecond=500_000))  # late in minute 12:01
    assert store.create_run(
        "dead0000run", "nightly", trigger="schedule:every-minute", params=found[0].params, engine="inprocess",
        owner="first", lease_ms=2000, firing_key="schedule:every-minute:2026-11-30T12:01", now=dying,
    )  # ... and "first" is killed before it renews its lease (expiring at 12:02:00.5)
    fresh = Scheduler(pipelines, tracking_uri=uri, owner="fresh", lease_seconds=2, clock=clock.at(dying + 2600))
    ran = fresh.tick()
    assert ran[0] == "dead0000run" and len(ran) == 2
    rows = {r.run_id: r for r in store.runs("nightly", now=_ms(clock.now))}
    assert rows["dead0000run"].status == "succeeded" and rows["dead0000run"].attempts == 2
    assert rows[ran[1]].firing_key == "schedule:every-minute:2026-11-30T12:02"
    assert fresh.tick() == [] and first.tick() == []  # nothing doubled
    assert len(store.runs("nightly", now=_ms(clock.now))) == 2


def test_a_killed_scheduler_loses_no_run_and_doubles_none(tmp_path: Path) -> None:
    uri = str(tmp_path / "store")
    marker = tmp_path / "marker.txt"
    (tmp_path / "defs.py").write_text(PIPELINES.replace("MARKER", repr(str(marker))))
    env = {**os.environ, "MODELYARD_TRACKING_URI": uri, "MODELYARD_HOME": str(tmp_path / "home"), "PYTHONHASHSEED": "12345"}
    # register the schedule and make its first firing due for the subprocess, which reads the wall clock
    pipelines, found = load_file(tmp_path / "defs.py")
    Scheduler(pipelines, tracking_uri=uri).schedule(found[0].name, found[0].pipeline, found[0].cron, found[0].params)
    _backdate(uri, "every-minute", 90)
    proc = subprocess.Popen(
        [sys.executable, "-m", "modelyard", "scheduler", str(tmp_path / "defs.py"), "--once", "--lease", "2"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        while not marker.exists():  # polled: the first attempt of step 2 has begun
            assert proc.poll() is None, "the scheduler exited before starting the run"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)  # mid-run, in step 2
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    store = Client(uri).store.pipelines
    [held] = store.runs("nightly", now=0)  # read as of before its lease ends, however long the kill took
    assert held.status in ("claimed", "running") and held.attempts == 1 and held.lease_expires is not None
    assert [(s.step, s.status) for s in store.steps(held.run_id)] == [("prepare", "ran")]
    # a new scheduler, a day later by its clock: it takes the run over (its lease expired
    # long ago) and fires that day's minute once; the killed firing is not fired again
    clock = Clock(T0).at(held.lease_expires + 86_400_000)
    fresh = Scheduler(pipelines, tracking_uri=uri, lease_seconds=2, clock=clock)
    ran = fresh.tick()
    assert ran[0] == held.run_id and len(ran) == 2
    done = store.get_run(held.run_id, now=_ms(clock.now))
    assert done is not None and done.status == "succeeded" and done.attempts == 2
    # resumed from the step cache, across processes: prepare is not run again
    assert [(s.step, s.status) for s in store.steps(held.run_id)] == [("prepare", "ran"), ("prepare", "cached"), ("slow", "ran")]
    assert [(s.step, s.status) for s in store.steps(ran[1])] == [("prepare", "cached"), ("slow", "cached")]
    assert len(marker.read_text().split()) == 2  # killed once, finished once
    assert len(Path(str(marker) + ".prepare").read_text().split()) == 1
    assert fresh.tick() == []  # nothing lost, nothing doubled
    assert len(store.runs("nightly", now=_ms(clock.now))) == 2


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
    clock = Clock(T0)
    sched = Scheduler(pipelines, tracking_uri=uri, clock=clock)
    for s in schedules:
        sched.schedule(s.name, s.pipeline, s.cron, s.params)
    clock.now = T0 + _dt.timedelta(hours=3)
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
