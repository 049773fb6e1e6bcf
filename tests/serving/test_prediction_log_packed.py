"""The prediction log's packed requests: online serving's single-row requests queued as one
byte string and two numbers each. They must give the table the general way gives (requests
of other layouts in groups of their own), keep every row with its own request under
concurrent writers and flushes, hold at most their share of the queue's bounds, carry the
model version that scored them across a swap, and leave nothing for the garbage collector to
walk; what cannot be packed goes to its lane."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pyarrow.dataset as ds
import pytest

from modelyard.data._predlog import QUEUE_FULL, requests_table
from modelyard.data._predlog_lanes import LaneHeader
from modelyard.data._predlog_packed import (
    MAX_MATRIX_BYTES,
    PACKED_BYTES,
    Layout,
    Packed,
    capacity,
    layout,
    tables,
)
from modelyard.data._predlog_writer import PredictionLogWriter
from modelyard.serving._scoring import ScoringPath
from tests.serving.test_prediction_log_lanes import (
    DAY,
    HEADER,
    NAMES,
    _logged,
    _parts,
    hammer,
    same_table,
)

from .conftest import Registered, Running, deployment_file
from .test_prediction_log_lanes import switching  # noqa: F401 - a fixture

OTHER = LaneHeader("e", "challenger", "m", "4", False, NAMES)


_LAYOUTS: dict[tuple[Any, ...], Layout] = {}


def _packed(p: dict[str, Any], header: LaneHeader = HEADER) -> tuple[Any, ...]:
    """A single-row request as the response path queues it, under the layout a route would
    have made for its header and dtypes (made once, as a route makes it): ``timestamp`` is
    when it started (the writers here read the performance counter as the wall clock),
    ``latency_ms`` what it took."""
    matrix, predictions, scores = p["matrix"], p["predictions"], p["scores"]
    kinds = (header, matrix.dtype, predictions.dtype, None if scores is None else scores.dtype)
    made = _LAYOUTS.get(kinds)
    if made is None:
        made = _LAYOUTS[kinds] = layout(None, header, matrix, predictions, scores)
    assert made.header is not None and matrix.nbytes == made.row_bytes
    score = None if scores is None else scores.item()
    return (made.header, p["request_id"], p["timestamp"], p["latency_ms"] / 1000, matrix.tobytes(), predictions.item(), score, p["keys"])  # fmt: skip


def _as_logged(p: dict[str, Any]) -> dict[str, Any]:
    """``p`` with the time and latency the log reads from its packed request."""
    elapsed = p["latency_ms"] / 1000
    return {**p, "timestamp": p["timestamp"] + elapsed + 0.0, "latency_ms": elapsed * 1000.0}


def _writer(root: Path, **bounds: Any) -> PredictionLogWriter:
    return PredictionLogWriter(root, packing=True, wall_offset=lambda: 0.0, **bounds)


def _written(root: Path) -> Any:
    return ds.dataset(root / "requests", format="parquet", partitioning="hive").to_table()


@pytest.mark.parametrize("kind", ["ints", "bools", "floats", "float32", "no-scores", "keys", "fortran"])
def test_packed_requests_give_the_table_the_general_way_gives(kind: str, tmp_path: Path) -> None:
    requests = [_parts(i, 1, kind) for i in range(7)]
    (header, table, times), *rest = tables([_packed(p) for p in requests], 0.0)
    logged = [_as_logged(p) for p in requests]
    assert not rest and header == HEADER and list(times) == [p["timestamp"] for p in logged]
    general = requests_table([_logged(p) for p in logged])
    same_table(table, general, tmp_path)


def test_the_wall_clock_offset_is_added_at_the_flush(tmp_path: Path) -> None:
    writer = PredictionLogWriter(tmp_path / "log", packing=True, wall_offset=lambda: 1.7e9)
    writer.packed.append(_packed({**_parts(0, 1, "ints"), "timestamp": 12.5, "latency_ms": 500.0}))
    assert writer.flush() == 1
    (row,) = _written(tmp_path / "log").to_pylist()
    assert row["timestamp"].timestamp() == 1.7e9 + 13.0 and row["latency_ms"] == 500.0


OTHER_LAYOUTS = {  # what another route or model version may answer: a layout, and a group, of its own
    "another prediction dtype": {"predictions": np.array([0.5])},
    "bools": {"predictions": np.array([True])},
    "float32 inputs": {"matrix": np.zeros((1, 3), np.float32)},
    "no scores": {"scores": None},
    "float32 scores": {"scores": np.array([0.25], np.float32)},
}


@pytest.mark.parametrize("other", OTHER_LAYOUTS)
def test_requests_of_another_layout_are_written_as_the_general_way_writes_them(other: str, tmp_path: Path) -> None:
    writer = _writer(tmp_path / "log")
    requests = [_parts(0, 1, "ints"), {**_parts(1, 1, "ints"), **OTHER_LAYOUTS[other]}, _parts(2, 1, "ints")]
    writer.packed.extend(_packed(p) for p in requests)
    assert len(list(tables(list(writer.packed), 0.0))) == 2, other
    assert writer.flush() == 3 and writer.depth == 0 and writer.dropped == 0
    written = _written(tmp_path / "log").to_pylist()
    assert sorted(r["request_id"] for r in written) == ["r0", "r1", "r2"], other
    general = requests_table([_logged(_as_logged(p)) for p in requests]).to_pylist()
    for row in written:  # each as the general way logs it from the arrays themselves
        expected = next(g for g in general if g["request_id"] == row["request_id"])
        assert {k: v for k, v in row.items() if k in expected} == expected, (other, row)


UNPACKABLE = {  # what goes to a lane: text, Python objects, a row wider than the bound
    "labels": {"predictions": np.array(["yes"])},
    "objects": {"predictions": np.array([1], dtype=object)},
    "object scores": {"scores": np.array([0.5], dtype=object)},
    "object inputs": {"matrix": np.zeros((1, 3), dtype=object)},
    "a list": {"predictions": [1]},
}


@pytest.mark.parametrize("misfit", UNPACKABLE)
def test_a_version_answering_what_cannot_be_packed_gets_no_layout(misfit: str) -> None:
    p = {**_parts(0, 1, "ints"), **UNPACKABLE[misfit]}
    made = layout(None, HEADER, p["matrix"], p["predictions"], p["scores"])
    assert made.header is None and made.row_bytes == -1, misfit


def test_a_row_wider_than_the_bound_gets_no_layout() -> None:
    wide = LaneHeader(*HEADER[:5], tuple(f"x{i}" for i in range(MAX_MATRIX_BYTES // 8 + 1)))
    matrix = np.zeros((1, len(wide.names)))
    assert layout(None, wide, matrix, np.zeros(1), None).header is None
    fits = LaneHeader(*HEADER[:5], wide.names[:-1])
    assert layout(None, fits, matrix[:, :-1], np.zeros(1), None).row_bytes == MAX_MATRIX_BYTES


def test_packed_requests_of_several_routes_are_written_each_with_its_header(tmp_path: Path) -> None:
    writer = _writer(tmp_path / "log")
    for i in range(6):
        writer.packed.append(_packed(_parts(i, 1, "ints"), OTHER if i % 3 == 0 else HEADER))
    assert writer.flush() == 6
    rows = _written(tmp_path / "log").to_pylist()
    assert {r["request_id"]: (r["route"], r["version"]) for r in rows} == {
        f"r{i}": ("challenger", "4") if i % 3 == 0 else ("champion", "3") for i in range(6)
    }


def test_packed_requests_across_midnight_are_split_by_date(tmp_path: Path) -> None:
    writer = _writer(tmp_path / "log")
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
    writer = _writer(tmp_path / "log", queue_size=4, queue_bytes=1 << 30)
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
    writer = _writer(tmp_path / "log")
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
    for column in ("input_a", "input_c", "prediction"):
        assert (table[column] == number).all(), column
    assert np.allclose(table.latency_ms, number)
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
    before = time.time()
    answers = [http.post("/v1/endpoints/cancer/predict", json={"records": registered.rows(1, start=i)}).json() for i in range(2)]
    answers.append(http.post("/invocations", json={"dataframe_records": registered.rows(1, start=2)}).json())
    three = http.post("/v1/endpoints/cancer/predict", json={"records": registered.rows(3, start=3)}).json()
    assert len(writer.packed) == 3 and sum(len(lane.request_ids) for lane in writer.lanes.values()) == 1
    # a packed request holds nothing the collector walks: the first pass that sees it, the
    # youngest generation's, stops tracking it (none is promoted still tracked, to be walked
    # by the older generations' passes)
    gc.collect(0)
    assert not any(gc.is_tracked(item) for item in writer.packed)
    registered.client.set_registered_model_alias("cancer", "champion", 2)
    assert running.server.runtime.refresh() == 1
    swapped = http.post("/v1/endpoints/cancer/predict", json={"records": registered.rows(1, start=6)}).json()
    assert swapped["version"] == "2" and len(writer.packed) == 4
    after = time.time()
    assert writer.flush() == 7
    rows = _written(tmp_path / "log").to_pandas()
    # stamped on the wall clock (from the performance counter's times, at the flush): between the first request and the last answer
    stamps = [t.timestamp() for t in rows.timestamp]
    assert all(before - 0.001 <= t <= after + 0.001 for t in stamps), (before, stamps, after)
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


class _Scorer:  # what the response path reads of a model version (hashed by identity, as a Scorer)
    name, label, spec = "m", "3", SimpleNamespace(name_tuple=NAMES)


def test_the_response_path_packs_what_fits_its_routes_layout_and_queues_the_rest_as_before(tmp_path: Path) -> None:
    """The route's layout is made from its first answer; an answer of another dtype, without
    its score or with two values a row goes the lanes' way, and every row is written with its
    own values either way."""
    writer = _writer(tmp_path / "log")
    path = ScoringPath()
    path.writer = writer
    endpoint, route, scorer = SimpleNamespace(name="e"), SimpleNamespace(label="champion", log_header=None), _Scorer()
    answers = {
        "r0": (np.full((1, 3), 0.0), np.array([1]), np.array([0.5])),  # makes the layout: packed
        "r1": (np.full((1, 3), 1.0), np.array([[1, 0]]), np.array([0.25])),  # two predictions a row
        "r2": (np.full((1, 3), 2.0), np.array([1.5]), np.array([0.75])),  # another prediction dtype
        "r3": (np.full((1, 3), 3.0), np.array([0]), None),  # no score
        "r4": (np.full((1, 3), 4.0, np.float32), np.array([1]), np.array([0.125])),  # float32 inputs
        "r5": (np.full((1, 3), 5.0), np.array([0]), np.array([0.0625])),  # the layout again: packed
    }
    for i, (request_id, (matrix, predictions, scores)) in enumerate(answers.items()):
        batch = SimpleNamespace(rows=1, matrix=matrix, columns={})
        out = SimpleNamespace(predictions=predictions, scores=scores)
        path._log(endpoint, route, scorer, batch, out, request_id, 100.0 + i, 0.5, None, shadow=False)  # type: ignore[arg-type]
    assert [item[1] for item in writer.packed] == ["r0", "r5"]
    assert writer.depth == 6  # the others in a lane or the general queue
    assert writer.flush() == 6
    rows = {r["request_id"]: r for r in _written(tmp_path / "log").to_pylist()}
    for request_id, (matrix, predictions, scores) in answers.items():
        row = rows[request_id]
        assert row["input_a"] == matrix[0, 0] and row["prediction"] == predictions.flat[0], request_id
        assert row["score"] == (None if scores is None else scores[0]), request_id
    assert rows["r0"]["latency_ms"] == 500.0 and rows["r0"]["timestamp"].timestamp() == 100.5
