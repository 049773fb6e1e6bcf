"""Monitoring from mergeable profiles over a log of many files: each file is read once, the
window's drift comes from merged sketches and agrees with the rows within the sketch's error."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from datasketches import kll_doubles_sketch

from modelyard.core.errors import ValidationError
from modelyard.data._compact import compact
from modelyard.data._predlog import LoggedRequest, write_requests
from modelyard.monitoring import Monitor
from modelyard.monitoring._profiles import update_profiles, window_profile
from modelyard.monitoring._sketch import NumericSketch, Profile
from modelyard.registry import Client

T0 = _dt.datetime(2026, 6, 1, tzinfo=_dt.UTC)
ROWS_PER_FILE = 400
# the KLL sketch's rank error at k=400 over every rank at once (99 % confidence): a KS statistic
# is the largest gap between two CDFs, so the sketch moves it by at most this much
BOUND = kll_doubles_sketch.get_normalized_rank_error(400, True)


def _frame(n: int, rng: np.random.Generator, shift: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "income": rng.normal(50 + 20 * shift, 10, n),
            "age": rng.integers(20, 70, n).astype("float64"),
            "purpose": rng.choice(
                ["car", "home", "study"], n, p=[0.5 - 0.3 * shift, 0.3, 0.2 + 0.3 * shift]
            ),
        }
    )


def _write_file(
    root: Path, at: _dt.datetime, rng: np.random.Generator, shift: float, tag: str
) -> None:
    """One writer file: a request of ROWS_PER_FILE rows per file, spread over ten minutes."""
    frame = _frame(ROWS_PER_FILE, rng, shift)
    items = []
    for i in range(0, ROWS_PER_FILE, 40):
        part = frame.iloc[i : i + 40]
        ts = (at + _dt.timedelta(seconds=1.5 * i)).timestamp()
        items.append(
            LoggedRequest(
                f"{tag}-{i}",
                ts,
                "credit",
                "champion",
                "credit",
                "1",
                False,
                200,
                3.0,
                len(part),
                {c: part[c].to_numpy() for c in part.columns},
                np.zeros(len(part)),
                rng.uniform(0, 1, len(part)) * (1 + shift) / 2,
            )
        )
    # a shadow and a failed request: never part of the profiles
    odd = {
        "income": np.array([1e9]),
        "age": np.array([1e9]),
        "purpose": np.array(["odd"], dtype=object),
    }
    items.append(
        LoggedRequest(
            f"{tag}-shadow",
            at.timestamp(),
            "credit",
            "shadow",
            "credit",
            "2",
            True,
            200,
            3.0,
            1,
            odd,
        )
    )
    items.append(
        LoggedRequest(
            f"{tag}-error",
            at.timestamp(),
            "credit",
            "champion",
            "credit",
            "1",
            False,
            500,
            3.0,
            1,
            odd,
        )
    )
    write_requests(root, items)


@pytest.fixture
def log(tmp_path: Path) -> tuple[Path, pd.DataFrame]:
    """Two days of traffic, one file every half hour (96 files); the second day drifted."""
    rng = np.random.default_rng(7)
    root = tmp_path / "log"
    for k in range(96):
        shift = 1.0 if k >= 48 else 0.0
        _write_file(root, T0 + _dt.timedelta(minutes=30 * k), rng, shift, f"f{k}")
    return root, _frame(5000, np.random.default_rng(1), 0.0)


@pytest.fixture
def tracking_uri(tmp_path: Path) -> str:
    """The store the monitor writes to (tests/server runs these tests against a team server)."""
    return str(tmp_path / "store")


def test_sketches_merge_into_the_sketch_of_the_union() -> None:
    rng = np.random.default_rng(0)
    parts = [rng.normal(0, 1, 10_000) for _ in range(20)]
    merged = Profile()
    for values in parts:
        one = Profile()
        one.update(__import__("pyarrow").table({"x": values}), ["x"])
        merged.merge(Profile.from_bytes(one.to_bytes()))
    sketch = merged.sketch("x", "numeric")
    assert isinstance(sketch, NumericSketch)
    every = np.concatenate(parts)
    assert sketch.count == every.size and merged.rows == every.size
    assert sketch.low == every.min() and sketch.high == every.max()
    for q in (0.01, 0.25, 0.5, 0.75, 0.99):
        rank = float((every <= sketch.kll.get_quantile(q)).mean())
        assert abs(rank - q) <= sketch.rank_error


def test_a_pass_reads_only_the_files_new_since_the_last(
    log: tuple[Path, pd.DataFrame], tracking_uri: str
) -> None:
    root, _ = log
    store = Client(tracking_uri).store.profiles
    first = update_profiles(store, "credit", root, settle_ns=0)
    assert (first.files_listed, first.files_read) == (96, 96)
    again = update_profiles(store, "credit", root, settle_ns=0)
    assert (again.folders_listed, again.files_listed, again.files_read) == (
        0,
        0,
        0,
    )  # a stat per day
    # the files already profiled are never opened again: make them unreadable garbage
    for path in (root / "requests").rglob("part-*.parquet"):
        path.write_bytes(b"not parquet")
    rng = np.random.default_rng(3)
    for k in range(3):
        _write_file(root, T0 + _dt.timedelta(days=2, minutes=30 * k), rng, 0.0, f"new{k}")
    later = update_profiles(store, "credit", root, settle_ns=0)
    # only the new day's folder is listed, and only its three files are read
    assert (later.folders_listed, later.files_listed, later.files_read, later.rows_read) == (
        1,
        3,
        3,
        3 * ROWS_PER_FILE,
    )
    # hour-aligned windows come from the stored hours alone
    day = window_profile(store, "credit", T0, T0 + _dt.timedelta(days=1), root)
    assert day.rows == 48 * ROWS_PER_FILE


def test_compacted_files_are_not_read_again(
    log: tuple[Path, pd.DataFrame], tracking_uri: str
) -> None:
    root, _ = log
    store = Client(tracking_uri).store.profiles
    update_profiles(store, "credit", root, settle_ns=0)
    done = compact("credit", root=root, before=_dt.date(2026, 6, 3))
    assert [c.files for c in done] == [48, 48]
    after = update_profiles(store, "credit", root, settle_ns=0)
    assert (after.files_listed, after.files_read) == (2, 0)
    assert (
        window_profile(store, "credit", T0, T0 + _dt.timedelta(days=2), root).rows
        == 96 * ROWS_PER_FILE
    )


def test_a_compacted_file_holding_unseen_rows_is_read_for_those_rows_only(
    log: tuple[Path, pd.DataFrame], tmp_path: Path, tracking_uri: str
) -> None:
    root, _ = log
    store = Client(tracking_uri).store.profiles
    day1 = root / "requests" / "endpoint=credit" / "date=2026-06-01"
    hidden = sorted(day1.glob("part-*.parquet"))[-5:]
    parked = tmp_path / "parked"
    parked.mkdir()
    for path in hidden:  # the monitor sees the day without its last five files...
        path.rename(parked / path.name)
    update_profiles(store, "credit", root, settle_ns=0)
    for path in hidden:  # ...which come back and are compacted with the rest before the next pass
        (parked / path.name).rename(path)
    compact("credit", root=root, before=_dt.date(2026, 6, 2))
    after = update_profiles(store, "credit", root, settle_ns=0)
    assert (after.files_read, after.rows_read) == (1, 5 * ROWS_PER_FILE)
    assert (
        window_profile(store, "credit", T0, T0 + _dt.timedelta(days=2), root).rows
        == 96 * ROWS_PER_FILE
    )


@pytest.mark.parametrize("end_minute", [0, 17])
def test_drift_from_profiles_agrees_with_the_rows(
    log: tuple[Path, pd.DataFrame], tracking_uri: str, end_minute: int
) -> None:
    root, reference = log
    monitor = Monitor("credit", reference=reference, tracking_uri=tracking_uri, log_root=root)
    for day, drifted in ((0, False), (1, True)):
        end = T0 + _dt.timedelta(days=day + 1, minutes=end_minute)
        exact = monitor.run("1d", end=end, store=False)
        sketched = monitor.run("1d", end=end, store=False, profiles=True)
        assert sketched.rows == exact.rows
        assert exact.drift is not None and sketched.drift is not None
        assert exact.drift.drifted is drifted and sketched.drift.drifted is drifted
        for column in ("income", "age"):
            a, b = exact.drift.column(column), sketched.drift.column(column)
            assert a.ks is not None and b.ks is not None
            assert abs(a.ks - b.ks) <= BOUND
            assert "KLL" in b.note
            if not a.drifted:  # conservative: no drift that the rows do not show
                assert not b.drifted
            if a.p_value is not None and a.p_value < 1e-9:  # a clear drift is found
                assert b.drifted
        a, b = exact.drift.column("purpose"), sketched.drift.column("purpose")
        assert (a.chi2, a.p_value, a.drifted) == (
            b.chi2,
            b.p_value,
            b.drifted,
        )  # category counts are exact
        for column in ("income", "age", "purpose"):
            assert sketched.quality[column]["null_rate"] == exact.quality[column]["null_rate"]
        assert (
            abs(
                sketched.quality["income"]["out_of_range"] - exact.quality["income"]["out_of_range"]
            )
            <= BOUND
        )
    # the second day's scores drift against the first day's, from the sketches too
    assert sketched.prediction_drift is not None and exact.prediction_drift is not None
    assert sketched.prediction_drift.drifted and exact.prediction_drift.drifted


def test_results_from_profiles_are_stored_like_any_window(
    log: tuple[Path, pd.DataFrame], tracking_uri: str
) -> None:
    root, reference = log
    monitor = Monitor(
        "credit", reference=reference, tracking_uri=tracking_uri, log_root=root
    )
    result = monitor.run("1d", end=T0 + _dt.timedelta(days=2), profiles=True)
    stored = {
        p.name: p.value for p in monitor.client.store.monitoring.points("credit") if not p.column
    }
    assert stored["rows"] == result.rows == 48 * ROWS_PER_FILE
    assert stored["dataset_drift"] == 1.0
    empty = monitor.run("1d", end=T0 + _dt.timedelta(days=30), profiles=True)
    assert empty.rows == 0 and "no traffic in this window" in empty.findings


def test_a_pass_can_compact_the_days_it_has_profiled(
    log: tuple[Path, pd.DataFrame], tracking_uri: str
) -> None:
    root, reference = log
    monitor = Monitor(
        "credit", reference=reference, tracking_uri=tracking_uri, log_root=root
    )
    with pytest.raises(ValidationError, match="compact=True needs profiles=True"):
        monitor.run("1d", end=T0 + _dt.timedelta(days=2), compact=True)
    first = monitor.run("1d", end=T0 + _dt.timedelta(days=1), profiles=True, compact=True)
    day1 = sorted(
        p.name
        for p in (root / "requests" / "endpoint=credit" / "date=2026-06-01").glob("*.parquet")
    )
    assert len(day1) == 1 and day1[0].startswith("compact-")
    assert (
        len(list((root / "requests" / "endpoint=credit" / "date=2026-06-02").glob("*.parquet")))
        == 48
    )
    again = monitor.run("1d", end=T0 + _dt.timedelta(days=1), profiles=True)
    assert again.rows == first.rows == 48 * ROWS_PER_FILE
    assert again.findings[0].startswith("from profiles: 0 new log file(s) read")


def test_the_cli_runs_a_window_from_profiles_and_compacts(
    log: tuple[Path, pd.DataFrame], tmp_path: Path
) -> None:
    import json

    from typer.testing import CliRunner

    from modelyard.cli import app

    root, reference = log
    reference.to_parquet(tmp_path / "reference.parquet")
    base = [
        "monitor",
        "run",
        "credit",
        "--window",
        "1d",
        "--end",
        "2026-06-03T00:00",
        "--log-root",
        str(root),
    ]
    base += [
        "--reference",
        str(tmp_path / "reference.parquet"),
        "--tracking-uri",
        str(tmp_path / "store"),
        "--json",
    ]
    runner = CliRunner()
    refused = runner.invoke(app, [*base, "--compact"])
    assert refused.exit_code != 0 and "compact=True needs profiles=True" in refused.output
    done = runner.invoke(app, [*base, "--profiles", "--compact"])
    assert done.exit_code == 0, done.output
    result = json.loads(done.output)
    assert result["rows"] == 48 * ROWS_PER_FILE and result["drift"]["drifted"]
    assert result["findings"][0].startswith("from profiles: 96 new log file(s) read of 96")
    for day in ("2026-06-01", "2026-06-02"):
        assert (
            len(list((root / "requests" / "endpoint=credit" / f"date={day}").glob("*.parquet")))
            == 1
        )
