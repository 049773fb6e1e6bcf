"""Compaction of the prediction log: many small files become one per day, readers never see
a row twice or miss one, and a compaction killed at any point leaves a consistent log."""

from __future__ import annotations

import datetime as _dt
import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from modelyard.cli import app
from modelyard.data._compact import compact_partition
from modelyard.data._logfiles import partition_files
from modelyard.data._predlog import LoggedRequest, write_requests
from modelyard.monitoring import compact_log
from modelyard.monitoring._window import load_requests, read_log

T0 = _dt.datetime(2026, 6, 1, tzinfo=_dt.UTC)
DAY = _dt.timedelta(days=1)


def _write(root: Path, k: int, rows: int = 50, *, day: int = 0, tag: str = "r") -> None:
    at = T0 + _dt.timedelta(days=day, minutes=k)
    values = np.arange(rows, dtype="float64") + k
    names = ("a",) if k % 2 else ("a", "b")  # files differ in their columns
    write_requests(
        root,
        [
            LoggedRequest(
                f"{tag}{day}-{k}",
                at.timestamp(),
                "credit",
                "champion",
                "credit",
                "1",
                False,
                200,
                1.0,
                rows,
                {n: values for n in names},
                values,
                None,
            )
        ],
    )


def _rows(root: Path, end_day: int = 3) -> tuple[int, int]:
    frame = read_log(
        "credit",
        "SELECT count(*) AS n, count(DISTINCT request_id || '#' || row) AS d FROM log",
        [],
        root,
    )
    return int(frame["n"].iloc[0]), int(frame["d"].iloc[0])


def _folder(root: Path, day: int = 0) -> Path:
    return root / "requests" / "endpoint=credit" / f"date={(T0 + day * DAY):%Y-%m-%d}"


def test_past_days_become_one_file_each_with_the_same_rows(tmp_path: Path) -> None:
    root = tmp_path / "log"
    for day in (0, 1, 2):
        for k in range(30):
            _write(root, k, day=day)
    before = load_requests("credit", T0, T0 + 3 * DAY, root).sort_values(
        ["request_id", "row"], ignore_index=True
    )
    done = compact_log("credit", root=root, before=(T0 + 2 * DAY).date())
    assert [(c.date, c.files, c.rows) for c in done] == [
        ("2026-06-01", 30, 1500),
        ("2026-06-02", 30, 1500),
    ]
    assert [p.name.startswith("compact-") for p in sorted(_folder(root, 0).glob("*.parquet"))] == [
        True
    ]
    assert (
        len(list(_folder(root, 2).glob("*.parquet"))) == 30
    )  # the day still being written: left alone
    after = load_requests("credit", T0, T0 + 3 * DAY, root).sort_values(
        ["request_id", "row"], ignore_index=True
    )
    assert after.equals(before[after.columns])
    assert "source_file" not in after.columns
    # late files for a compacted day: the next compaction takes them with the compacted file
    for k in range(30, 33):
        _write(root, k, day=0)
    again = compact_log("credit", root=root, before=(T0 + DAY).date())
    assert (again[0].files, again[0].rows) == (4, 1650)
    assert len(list(_folder(root, 0).glob("*.parquet"))) == 1
    assert _rows(root) == (1650 + 3000, 1650 + 3000)


def test_a_reader_during_compaction_sees_every_row_once(tmp_path: Path) -> None:
    root = tmp_path / "log"
    stop = threading.Event()
    reads: list[tuple[int, int]] = []
    errors: list[BaseException] = []

    def reader() -> None:
        while not stop.is_set():
            try:
                reads.append(_rows(root))
            except BaseException as error:
                errors.append(error)
                return

    totals = {0}
    total = 0
    thread = threading.Thread(target=reader)
    for k in range(20):
        _write(root, k)
        total += 50
    totals.add(total)
    thread.start()
    try:
        for round_ in range(4):
            for k in range(5):
                _write(root, 100 * (round_ + 1) + k)
                total += 50
                totals.add(total)

            def wait_for_a_read(_: Path) -> None:
                # the compacted file is live and the files it replaces are still there: the
                # moment a reader could count rows twice. Hold it until a reader has read.
                seen = len(reads)
                while len(reads) < seen + 2 and not errors:
                    threading.Event().wait(0.01)

            compact_partition(_folder(root), endpoint="credit", after_publish=wait_for_a_read)
    finally:
        stop.set()
        thread.join()
    assert not errors
    assert all(n == d for n, d in reads), "a row was read twice"
    assert {n for n, _ in reads} <= totals, "a read missed rows"
    assert _rows(root) == (total, total)


SCRIPT = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    import modelyard.data._compact as compaction

    folder, point, marker = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    if point == "writing":
        real = compaction._conform
        count = [0]

        def slow(*args):
            count[0] += 1
            if count[0] == 10:  # half-way through the files
                marker.write_text("writing")
                time.sleep(600)
            return real(*args)

        compaction._conform = slow
        compaction.compact_partition(folder)
    else:
        def hang(_):
            marker.write_text("published")
            time.sleep(600)

        compaction.compact_partition(folder, after_publish=hang)
    """
)


@pytest.mark.parametrize("point", ["writing", "published"])
def test_a_compaction_killed_midway_leaves_a_consistent_log(tmp_path: Path, point: str) -> None:
    root = tmp_path / "log"
    for k in range(20):
        _write(root, k)
    script = tmp_path / "compact.py"
    script.write_text(SCRIPT)
    marker = tmp_path / "marker"
    proc = subprocess.Popen([sys.executable, str(script), str(_folder(root)), point, str(marker)])
    try:
        while not marker.exists():
            assert proc.poll() is None, "the compaction ended before the kill point"
            threading.Event().wait(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    names = sorted(p.name for p in _folder(root).iterdir())
    if point == "writing":
        assert any(n.endswith(".tmp") for n in names) and not any(
            n.startswith("compact-") for n in names
        )
    else:
        assert (
            any(n.startswith("compact-") for n in names)
            and sum(n.startswith("part-") for n in names) == 20
        )
    assert _rows(root) == (1000, 1000)
    assert len(partition_files(_folder(root))) == (20 if point == "writing" else 1)
    # running it again finishes the job and clears what the kill left
    compact_partition(_folder(root))
    names = sorted(
        p.name for p in _folder(root).iterdir() if not p.name.startswith(".compact.lock")
    )
    assert len(names) == 1 and names[0].startswith("compact-")
    assert _rows(root) == (1000, 1000)


def test_the_cli_compacts_and_names_a_bad_date(tmp_path: Path) -> None:
    root = tmp_path / "log"
    for k in range(3):
        _write(root, k)
    runner = CliRunner()
    bad = runner.invoke(
        app, ["monitor", "compact", "credit", "--log-root", str(root), "--before", "June"]
    )
    assert bad.exit_code != 0 and "--before" in bad.output
    done = runner.invoke(
        app,
        [
            "monitor",
            "compact",
            "credit",
            "--log-root",
            str(root),
            "--before",
            "2026-06-02",
            "--json",
        ],
    )
    assert done.exit_code == 0, done.output
    assert '"files": 3' in done.output
    assert _rows(root) == (150, 150)


def test_lineage_counts_served_rows_once_mid_compaction(tmp_path: Path) -> None:
    from modelyard.pipelines._lineage import _served

    root = tmp_path / "log"
    for k in range(6):
        _write(root, k)
    counted: list[int] = []
    compact_partition(
        _folder(root),
        after_publish=lambda _: counted.extend(r["rows"] for r in _served("credit", 1, root)),
    )
    assert counted == [300]  # the compacted file and the six it replaces were all there
    assert [r["rows"] for r in _served("credit", 1, root)] == [300]
