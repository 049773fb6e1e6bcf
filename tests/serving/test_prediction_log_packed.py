"""The prediction log's packed requests: online serving's single-row requests queued as one
byte string each. They must give the table the general way gives (a group whose arrays do
not join is written the general way), keep every row with its own request under concurrent
writers and flushes, hold at most their share of the queue's bounds, carry the model version
that scored them across a swap, and leave nothing for the garbage collector to walk."""

from __future__ import annotations

import gc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.dataset as ds
import pytest

from modelyard.data._predlog import QUEUE_FULL, requests_table
from modelyard.data._predlog_lanes import LaneHeader
from modelyard.data._predlog_packed import PACKED_BYTES, Packed, capacity, tables
from modelyard.data._predlog_writer import PredictionLogWriter
from tests.serving.test_prediction_log_lanes import DAY, HEADER, NAMES, _logged, _parts, hammer

from .conftest import Registered, Running, deployment_file
from .test_prediction_log_lanes import switching  # noqa: F401 - a fixture

OTHER = LaneHeader("e", "challenger", "m", "4", False, NAMES)


def _packed(p: dict[str, Any], header: LaneHeader = HEADER) -> tuple[Any, ...]:
    """A single-row request as the response path queues it: its row's bytes, packed."""
    matrix, predictions, scores = p["matrix"], p["predictions"], p["scores"]
    packed = matrix.tobytes() + predictions.tobytes() + (b"" if scores is None else scores.tobytes())
    score_type = None if scores is None else scores.dtype
    return (tuple(header), p["request_id"], p["timestamp"], p["latency_ms"], packed, matrix.dtype, predictions.dtype, score_type, p["keys"])  # fmt: skip


def _written(root: Path) -> Any:
    return ds.dataset(root / "requests", format="parquet", partitioning="hive").to_table()


@pytest.mark.parametrize("kind", ["ints", "bools", "floats", "float32", "no-scores", "keys", "fortran"])
def test_packed_requests_give_the_table_the_general_way_gives(kind: str) -> None:
    requests = [_parts(i, 1, kind) for i in range(7)]
    (header, table, times), *rest = tables([_packed(p) for p in requests])
    assert not rest and header == HEADER and list(times) == [p["timestamp"] for p in requests]
    general = requests_table([_logged(p) for p in requests])
    assert table.equals(general), (kind, table.schema, general.schema)


MISFITS = {  # what can reach the queue: one row, one prediction, no Python objects
    "labels": {"predictions": np.array(["yes"])},
    "another dtype": {"predictions": np.array([0.5])},
    "bools": {"predictions": np.array([True])},
    "float32 inputs": {"matrix": np.zeros((1, 3), np.float32)},
    "no scores": {"scores": None},
    "float32 scores": {"scores": np.array([0.25], np.float32)},
}


@pytest.mark.parametrize("misfit", MISFITS)
def test_a_group_whose_arrays_do_not_join_is_written_the_general_way(misfit: str, tmp_path: Path) -> None:
    writer = PredictionLogWriter(tmp_path / "log", packing=True)
    requests = [_parts(0, 1, "ints"), {**_parts(1, 1, "ints"), **MISFITS[misfit]}, _parts(2, 1, "ints")]
    writer.packed.extend(_packed(p) for p in requests)
    made = list(tables(list(writer.packed)))
    assert len(made) == 1 and isinstance(made[0][1], list), misfit  # decoded one by one
    assert writer.flush() == 3 and writer.depth == 0 and writer.dropped == 0
    written = _written(tmp_path / "log").to_pylist()
    assert sorted(r["request_id"] for r in written) == ["r0", "r1", "r2"], misfit
    general = requests_table([_logged(p) for p in requests]).to_pylist()
    for row in written:  # each as the general way logs it from the arrays themselves
        expected = next(g for g in general if g["request_id"] == row["request_id"])
        assert {k: v for k, v in row.items() if k in expected} == expected, (misfit, row)


def test_packed_requests_of_several_routes_are_written_each_with_its_header(tmp_path: Path) -> None:
    writer = PredictionLogWriter(tmp_path / "log", packing=True)
    for i in range(6):
        writer.packed.append(_packed(_parts(i, 1, "ints"), OTHER if i % 3 == 0 else HEADER))
    assert writer.flush() == 6
    rows = _written(tmp_path / "log").to_pylist()
    assert {r["request_id"]: (r["route"], r["version"]) for r in rows} == {
        f"r{i}": ("challenger", "4") if i % 3 == 0 else ("champion", "3") for i in range(6)
    }


def test_packed_requests_across_midnight_are_split_by_date(tmp_path: Path) -> None:
    writer = PredictionLogWriter(tmp_path / "log", packing=True)
    midnight = 20_000 * DAY  # 2024-10-04T00:00Z
    for i, t in enumerate([midnight - 1, midnight + 1, midnight - 0.5]):
        writer.packed.append(_packed({**_parts(i, 1, "ints"), "timestamp": t}))
    assert writer.flush() == 3
    folder = tmp_path / "log" / "requests" / "endpoint=e"
    before = ds.dataset(folder / "date=2024-10-03", format="parquet").to_table()
    after = ds.dataset(folder / "date=2024-10-04", format="parquet").to_table()
    assert sorted(before.column("request_id").to_pylist()) == ["r0", "r2"]
    assert after.column("request_id").to_pylist() == ["r1"]


def test_packed_requests_take_half_of_the_bounds_and_the_lanes_the_rest(tmp_path: Path) -> None:
    assert capacity(100_000, 256 << 20) == (128 << 20) // PACKED_BYTES  # the bytes bind first
    assert capacity(10, 1 << 30) == 5 and capacity(10, PACKED_BYTES) == 0
    writer = PredictionLogWriter(tmp_path / "log", queue_size=4, queue_bytes=1 << 30, packing=True)
    assert writer.packed.capacity == 2 and PredictionLogWriter(tmp_path / "x", queue_size=4).packed.capacity == 0
    writer.packed.extend(_packed(_parts(i, 1, "ints")) for i in range(2))
    assert writer.depth == 2 and writer.queued_bytes == 2 * PACKED_BYTES
    lane = writer.lane("k", HEADER)  # where the response path sends a request that finds the packed queue full
    assert all(lane.add(**_parts(i, 1, "ints")) for i in range(2, 5))
    assert writer.dropped_by[QUEUE_FULL] == 1 and writer.depth == 4  # 2 + 2: the bound holds
    assert writer.flush() == 4 and writer.depth == 0 and writer.queued_bytes == 0
    assert sorted(_written(tmp_path / "log").column("request_id").to_pylist()) == ["r0", "r1", "r2", "r3"]


def test_a_take_leaves_what_is_appended_after_it() -> None:
    queue = Packed(10)
    queue.extend([1, 2])  # type: ignore[list-item]
    taken = queue.take()
    queue.append(3)  # type: ignore[arg-type]
    assert taken == [1, 2] and list(queue) == [3] and queue.take() == [3] and not queue


@pytest.mark.usefixtures("switching")
def test_concurrent_writers_and_flushes_keep_every_packed_request(tmp_path: Path) -> None:
    writer = PredictionLogWriter(tmp_path / "log", packing=True)
    per_thread, threads = 3000, 4

    def serve(t: int) -> None:
        for j in range(per_thread):
            i = t * per_thread + j
            value = np.full((1, len(NAMES)), float(i))
            parts = {"request_id": f"r{i}", "timestamp": 1.7e9 + j, "latency_ms": float(i), "matrix": value,
                     "predictions": np.full(1, i), "scores": np.full(1, i / 10), "keys": None}  # fmt: skip
            writer.packed.append(_packed(parts))

    hammer(writer, serve, threads)
    table = _written(tmp_path / "log").to_pandas()
    assert writer.dropped == 0 and len(table) == per_thread * threads
    assert table.request_id.is_unique
    number = table.request_id.str[1:].astype(int)
    for column in ("input_a", "input_c", "prediction", "latency_ms"):
        assert (table[column] == number).all(), column
    assert np.allclose(table.score, number / 10)



def test_the_server_packs_single_row_requests_with_their_version(
    registered: Registered, serve: Callable[..., Running], tmp_path: Path
) -> None:
    """Single-row requests on every route are packed, with the header of the model
    version that scored them (a swap between two requests changes it); a request of more rows
    goes to its lane. Each is written with its own inputs and answer."""
    target = deployment_file(
        tmp_path,
        {
            "endpoints": [{"name": "cancer", "routes": [{"model": "models:/cancer@champion"}]}],
            "prediction_log": {"path": str(tmp_path / "log"), "flush_seconds": 3600},
        },
    )
    running = serve(target, watch=False)
    writer = running.server.writer
    assert writer is not None and writer.packed.capacity > 0
    http = running.http
    answers = [http.post("/v1/endpoints/cancer/predict", json={"records": registered.rows(1, start=i)}).json() for i in range(2)]
    answers.append(http.post("/invocations", json={"dataframe_records": registered.rows(1, start=2)}).json())
    three = http.post("/v1/endpoints/cancer/predict", json={"records": registered.rows(3, start=3)}).json()
    assert len(writer.packed) == 3 and sum(len(lane.request_ids) for lane in writer.lanes.values()) == 1
    # a packed request holds nothing the collector walks: it stops tracking it (once the route's
    # header, made at the first request, has been untracked by a pass of its own)
    gc.collect()
    gc.collect()
    assert not any(gc.is_tracked(item) for item in writer.packed)
    registered.client.set_registered_model_alias("cancer", "champion", 2)
    assert running.server.runtime.refresh() == 1
    swapped = http.post("/v1/endpoints/cancer/predict", json={"records": registered.rows(1, start=6)}).json()
    assert swapped["version"] == "2" and len(writer.packed) == 4
    assert writer.flush() == 7
    rows = _written(tmp_path / "log").to_pandas()
    ids = [a["request_id"] for a in answers[:2]] + [three["request_id"], swapped["request_id"]]
    assert set(ids) <= set(rows.request_id) and len(rows) == 7
    by_id = rows.set_index(["request_id", "row"]).sort_index()
    for i, answer in enumerate(answers[:2]):
        row = by_id.loc[(answer["request_id"], 0)]
        assert row["input_mean radius"] == registered.X["mean radius"].iloc[i]
        assert row["prediction"] == answer["predictions"][0] and row["version"] == "1"
        assert np.isclose(row["score"], answer["probabilities"][0][1])
    assert by_id.loc[(swapped["request_id"], 0)]["version"] == "2"
    assert by_id.loc[three["request_id"]]["input_mean radius"].tolist() == registered.X["mean radius"].iloc[3:6].tolist()
