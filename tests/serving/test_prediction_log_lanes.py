"""The prediction log's lanes: online serving's requests kept as columns on the way to Parquet.
They must give the table the general way gives, share the queue's bounds, keep every row with
its own request under concurrent writers and flushes, and split a chunk at midnight UTC."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from modelyard.data import _predlog_writer
from modelyard.data._predlog import (
    BAD_BATCH,
    QUEUE_BYTES,
    QUEUE_FULL,
    LoggedRequest,
    requests_table,
    write_atomic,
)
from modelyard.data._predlog_lanes import Budget, Chunk, Lane, LaneHeader, chunk_table
from modelyard.data._predlog_writer import PredictionLogWriter

NAMES = ("a", "b", "c")
HEADER = LaneHeader("e", "champion", "m", "3", False, NAMES)
DAY = 86400.0


def _parts(i: int, rows: int, kind: str) -> dict[str, Any]:
    """One request's values; ``kind`` chooses the dtypes a model might answer with."""
    rng = np.random.default_rng(i)
    matrix = rng.random((rows, len(NAMES))).astype(np.float32 if kind == "float32" else np.float64)
    if kind == "fortran":
        matrix = np.asfortranarray(matrix)
    predictions: Any = rng.integers(0, 2, rows)
    if kind == "bools":
        predictions = predictions.astype(bool)
    elif kind == "floats":
        predictions = rng.random(rows)
    scores = None if kind == "no-scores" else rng.random((rows, 2))[:, 1]  # a strided column, as models give
    keys = [f"k{i}-{r}" for r in range(rows)] if kind == "keys" and i % 2 else None
    return {
        "request_id": f"r{i}", "timestamp": 1.7e9 + i / 7, "latency_ms": 0.25 * i, "rows": rows,
        "matrix": matrix, "predictions": predictions, "scores": scores, "keys": keys,
    }  # fmt: skip


def _logged(p: dict[str, Any]) -> LoggedRequest:
    return LoggedRequest(
        p["request_id"], p["timestamp"], HEADER.endpoint, HEADER.route, HEADER.model, HEADER.version,
        HEADER.shadow, 200, p["latency_ms"], p["rows"], {}, p["predictions"], p["scores"], p["keys"],
        p["matrix"], NAMES,
    )  # fmt: skip


HEADER_TEXT = ("endpoint", "route", "model", "version")


def same_table(fast: pa.Table, general: pa.Table, scratch: Path) -> None:
    """``fast`` (a lane's or packed requests' table) holds what ``general`` holds, its header's
    text as dictionaries of one value; written, the two read back alike."""
    for name in HEADER_TEXT:
        column = fast.column(name)
        assert pa.types.is_dictionary(column.type) and len(column.chunk(0).dictionary) == 1, name
    assert fast.cast(general.schema).equals(general), (fast.schema, general.schema)
    written = [pq.read_table(write_atomic(table, scratch / name)) for name, table in (("fast", fast), ("general", general))]
    assert written[0].equals(written[1]), (written[0].schema, written[1].schema)


def _chunk(requests: list[dict[str, Any]]) -> Chunk:
    lane = Lane(HEADER, Budget(100, 1 << 20))
    assert all(lane.add(**p) for p in requests)
    chunk = lane.take()
    assert chunk is not None and len(chunk.request_ids) == len(requests)
    return chunk


@pytest.mark.parametrize("kind", ["ints", "bools", "floats", "float32", "no-scores", "keys", "fortran"])
@pytest.mark.parametrize("rows", [[1] * 7, [1, 3, 1, 2, 1, 1, 4]])
def test_a_lane_gives_the_table_the_general_way_gives(kind: str, rows: list[int], tmp_path: Path) -> None:
    requests = [_parts(i, n, kind) for i, n in enumerate(rows)]
    fast = chunk_table(_chunk(requests))
    general = requests_table([_logged(p) for p in requests])
    assert fast.num_rows == sum(rows)
    same_table(fast, general, tmp_path)


MISFITS = {
    "labels": {"predictions": np.array(["yes"], dtype=object)},
    "two columns": {"predictions": np.zeros((1, 2), np.int64)},
    "another dtype": {"predictions": np.array([0.5])},
    "one too many": {"predictions": np.array([1, 0])},
    "none": {"predictions": None},
    "wider": {"matrix": np.zeros((1, 4))},
    "float32 inputs": {"matrix": np.zeros((1, 3), np.float32)},
    "a list": {"matrix": [[1.0, 2.0, 3.0]]},
    "no scores": {"scores": None},
    "int scores": {"scores": np.array([1])},
    "no score": {"scores": np.zeros(0)},
}


@pytest.mark.parametrize("misfit", MISFITS)
def test_a_request_that_is_not_the_lanes_goes_the_general_way(misfit: str, tmp_path: Path) -> None:
    """A lane takes the dtypes and shapes of its first request; one that differs is refused
    (nothing of it is queued) and its caller logs it the general way: every request is written."""
    writer = PredictionLogWriter(tmp_path / "log")
    lane = writer.lane("k", HEADER)
    requests = [_parts(0, 1, "ints"), {**_parts(1, 1, "ints"), **MISFITS[misfit]}, _parts(2, 2, "ints")]
    taken = [lane.add(**p) for p in requests]
    assert taken == [True, False, True] and len(lane.request_ids) == 2, misfit
    assert writer.log(_logged(requests[1]))
    assert writer.flush() == 4
    table = ds.dataset(tmp_path / "log" / "requests", format="parquet", partitioning="hive").to_table()
    assert sorted(table.column("request_id").to_pylist()) == ["r0", "r1", "r2", "r2"]


def test_a_lane_refuses_what_its_first_request_cannot_set() -> None:
    lane = Lane(HEADER, Budget(100, 1 << 20))
    assert not lane.add(**{**_parts(0, 1, "ints"), "predictions": np.array(["yes"], dtype=object)})
    assert lane.dtypes is None and lane.add(**_parts(1, 1, "ints")) and len(lane.request_ids) == 1


def test_a_retired_lane_sends_its_callers_the_general_way() -> None:
    lane = Lane(HEADER, Budget(100, 1 << 20))
    assert lane.take() is None and lane.retired
    assert not lane.add(**_parts(0, 1, "ints"))


def test_lanes_and_the_general_queue_share_their_bounds(tmp_path: Path) -> None:
    writer = PredictionLogWriter(tmp_path / "log", queue_size=3)
    lane = writer.lane("key", HEADER)
    assert lane is writer.lane("key", LaneHeader("other", "x", "y", "z", True, ()))  # made once
    assert lane.add(**_parts(0, 1, "ints")) and lane.add(**_parts(1, 1, "ints"))
    assert writer.log(_logged(_parts(2, 1, "ints")))
    assert lane.add(**_parts(3, 1, "ints"))  # queued or dropped and counted: the caller is done
    assert not writer.log(_logged(_parts(4, 1, "ints")))
    assert writer.dropped_by[QUEUE_FULL] == 2 and writer.depth == 3
    assert writer.flush() == 3 and writer.depth == 0 and writer.queued_bytes == 0
    table = ds.dataset(tmp_path / "log" / "requests", format="parquet", partitioning="hive").to_table()
    assert sorted(table.column("request_id").to_pylist()) == ["r0", "r1", "r2"]
    assert writer.flush() == 0 and "key" not in writer.lanes  # empty at a flush: retired
    retiring = writer.lane("other", HEADER)
    assert retiring.take() is None and writer.lanes["other"] is retiring  # retired, not yet taken out
    assert writer.lane("other", HEADER) is not retiring  # a new lane in its place
    small = PredictionLogWriter(tmp_path / "small", queue_bytes=1000)
    big = _parts(5, 40, "ints")  # 960 bytes of matrix alone
    assert small.lane("k", HEADER).add(**big) and small.dropped_by[QUEUE_BYTES] == 1 and small.depth == 0


@pytest.fixture
def switching() -> Iterator[None]:
    """Threads switch every microsecond: between almost any two bytecodes."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


def hammer(writer: PredictionLogWriter, serve: Callable[[int], None], threads: int) -> None:
    """``serve(t)`` on ``threads`` threads while another flushes ``writer`` in a loop; then
    a last flush."""
    done = threading.Event()

    def flush() -> None:
        while not done.is_set():
            writer.flush()

    flusher = threading.Thread(target=flush)
    flusher.start()
    workers = [threading.Thread(target=serve, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    done.set()
    flusher.join()
    writer.flush()


@pytest.mark.usefixtures("switching")
def test_concurrent_writers_and_flushes_keep_every_row_with_its_request(tmp_path: Path) -> None:
    writer = PredictionLogWriter(tmp_path / "log")
    per_thread, threads = 3000, 4

    def serve(t: int) -> None:
        for j in range(per_thread):
            i = t * per_thread + j
            rows = 1 + i % 3
            lane = writer.lanes.get("k") or writer.lane("k", HEADER)
            value = np.full((rows, len(NAMES)), float(i))
            if not lane.add(f"r{i}", 1.7e9 + j, float(i), rows, value, np.full(rows, i), np.full(rows, i / 10), None):
                writer.log(LoggedRequest(f"r{i}", 1.7e9 + j, "e", "champion", "m", "3", False, 200, float(i), rows, {}, np.full(rows, i), np.full(rows, i / 10), None, value, NAMES))  # fmt: skip

    hammer(writer, serve, threads)
    table = ds.dataset(tmp_path / "log" / "requests", format="parquet", partitioning="hive").to_table().to_pandas()
    n = per_thread * threads
    assert writer.dropped == 0 and len(table) == sum(1 + i % 3 for i in range(n))
    number = table.request_id.str[1:].astype(int)
    for column in ("input_a", "input_c", "prediction", "latency_ms"):
        assert (table[column] == number).all(), column
    assert np.allclose(table.score, number / 10)
    assert (table.groupby("request_id").row.apply(sorted) == table.groupby("request_id").row.count().apply(lambda c: list(range(c)))).all()


def test_a_chunk_across_midnight_is_split_by_date(tmp_path: Path) -> None:
    writer = PredictionLogWriter(tmp_path / "log")
    midnight = 20_000 * DAY  # 2024-10-04T00:00Z
    lane = writer.lane("k", HEADER)
    for i, (t, rows) in enumerate([(midnight - 1, 2), (midnight + 1, 1), (midnight - 0.5, 3)]):
        assert lane.add(**{**_parts(i, rows, "ints"), "timestamp": t})
    assert writer.flush() == 6
    folder = tmp_path / "log" / "requests" / "endpoint=e"
    before = ds.dataset(folder / "date=2024-10-03", format="parquet").to_table()
    after = ds.dataset(folder / "date=2024-10-04", format="parquet").to_table()
    assert sorted(before.column("request_id").to_pylist()) == ["r0", "r0", "r2", "r2", "r2"]
    assert after.column("request_id").to_pylist() == ["r1"] and after.column("row").to_pylist() == [0]


def test_a_chunk_that_cannot_be_written_is_counted_and_the_next_one_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = PredictionLogWriter(tmp_path / "log")
    lane = writer.lane("k", HEADER)
    for i in range(3):
        lane.add(**_parts(i, 1, "ints"))

    def refuse(chunk: Any) -> Any:
        raise ValueError("a value Arrow refuses")

    monkeypatch.setattr(_predlog_writer, "chunk_table", refuse)
    assert writer.flush() == 0 and writer.dropped_by[BAD_BATCH] == 3 and writer.depth == 0
    monkeypatch.undo()
    (tmp_path / "log").mkdir()
    (tmp_path / "log" / "requests").write_text("a file where a folder goes")
    lane = writer.lanes.get("k") or writer.lane("k", HEADER)
    lane.add(**_parts(3, 1, "ints"))
    assert writer.flush() == 0 and writer.dropped_by["write_failed"] == 1
    (tmp_path / "log" / "requests").unlink()
    lane = writer.lanes.get("k") or writer.lane("k", HEADER)
    lane.add(**_parts(4, 1, "ints"))
    assert writer.flush() == 1
