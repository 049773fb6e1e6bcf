"""The prediction log and feedback: every scored row lands in Parquet, off the response path;
a full queue counts drops instead of blocking or losing them silently."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
import yaml

from modelyard.core.errors import ValidationError
from modelyard.data._predlog import LoggedRequest, requests_table
from modelyard.data._predlog_writer import PredictionLogWriter
from modelyard.serving import load_deployment

from .conftest import Registered, Running


def test_requests_and_feedback_are_logged(registered: Registered, serve: Callable[..., Running], tmp_path: Path) -> None:
    running = serve("models:/cancer@champion")
    http = running.http
    one = http.post("/v1/endpoints/cancer/predict", json={"records": registered.rows(3)}).json()
    two = http.post("/invocations", json={"dataframe_records": registered.rows(2, start=10)}).json()
    assert len(two["predictions"]) == 2
    accepted = http.post("/v1/feedback", json={"request_id": one["request_id"], "row": 0, "label": 1})
    assert accepted.status_code == 202 and accepted.json() == {"accepted": 1, "dropped": 0}
    batch = http.post("/v1/feedback", json={"feedback": [{"request_id": one["request_id"], "row": 1, "label": 0}, {"entity_key": "7", "label": "bad"}]})
    assert batch.json()["accepted"] == 2
    for body, field in (
        ({"request_id": one["request_id"]}, "'label'"),
        ({"label": 1}, "'request_id' or 'entity_key'"),
        ({"request_id": "x y", "label": 1}, "request_id"),
        ({"feedback": [{"request_id": "a", "label": 1, "row": -1}]}, "feedback[0].row"),
        ({"request_id": "a", "label": [1]}, "label"),
    ):
        refused = http.post("/v1/feedback", json=body)
        assert refused.status_code == 400 and field in refused.json()["error"]["message"], body
    writer = running.server.writer
    assert writer is not None
    writer.flush()
    rows = ds.dataset(writer.root / "requests", format="parquet", partitioning="hive").to_table().to_pandas()
    assert len(rows) == 5
    first = rows[rows.request_id == one["request_id"]].sort_values("row")
    assert first["row"].tolist() == [0, 1, 2]
    assert np.allclose(first["input_mean radius"], registered.X["mean radius"].head(3))
    assert first["prediction"].tolist() == one["predictions"]
    assert np.allclose(first["score"], [p[1] for p in one["probabilities"]])
    assert set(rows.version) == {"1"} and set(rows.route) == {"champion"} and not rows.shadow.any()
    assert (rows.latency_ms > 0).all() and set(rows.status) == {200} and set(rows.model) == {"cancer"}
    feedback = ds.dataset(writer.root / "feedback", format="parquet", partitioning="hive").to_table().to_pandas()
    assert sorted(feedback.label.dropna().tolist()) == [0.0, 1.0]
    assert feedback.loc[feedback.entity_key == "7", "label_text"].item() == "bad"


def test_a_full_queue_counts_drops(tmp_path: Path) -> None:
    writer = PredictionLogWriter(tmp_path / "log", queue_size=3)

    def item(i: int) -> LoggedRequest:
        return LoggedRequest(f"r{i}", 1.7e9, "e", "r", "m", "1", False, 200, 1.0, 1, {"x": np.array([float(i)])}, np.array([1]), None)

    assert [writer.log(item(i)) for i in range(5)] == [True, True, True, False, False]
    assert writer.dropped == 2 and writer.depth == 3
    assert writer.flush() == 3
    table = ds.dataset(tmp_path / "log" / "requests", format="parquet", partitioning="hive").to_table()
    assert sorted(table.column("request_id").to_pylist()) == ["r0", "r1", "r2"]
    assert not list((tmp_path / "log").rglob(".*.tmp"))


def test_deployment_files_are_checked_field_by_field(tmp_path: Path) -> None:
    cases = [
        ({"endpoints": []}, "endpoints"),
        ({"endpoints": [{"name": "a", "routes": [{"model": "models:/x/1", "weight": -1}]}]}, "endpoints.0.routes.0.weight"),
        ({"endpoints": [{"name": "a b", "routes": [{"model": "models:/x/1"}]}]}, "endpoints.0.name"),
        ({"endpoints": [{"name": "a", "routes": [{"model": "models:/x/1"}], "colour": 1}]}, "colour"),
        ({"endpoints": [{"name": "a", "routes": [{"model": "models:/x/1"}]}], "auth": {"tokens": [{"name": "t", "sha256": "abc"}]}}, "auth.tokens.0.sha256"),
        ({"endpoints": [{"name": "a", "routes": [{"model": "models:/x@champion"}, {"model": "models:/y@champion"}]}]}, "unique"),
    ]
    for body, field in cases:
        path = tmp_path / "d.yaml"
        path.write_text(yaml.safe_dump(body))
        with pytest.raises(ValidationError, match=field.replace(".", r"\.")):
            load_deployment(str(path))
    path.write_text("endpoints: [\n  {name: a,")
    with pytest.raises(ValidationError, match="line"):
        load_deployment(str(path))
    with pytest.raises(ValidationError, match="neither a models:/ URI"):
        load_deployment("no-such-thing")


def _request(i: int, rows: int, kind: str) -> LoggedRequest:
    """A logged request of ``rows`` rows whose predictions and scores are of ``kind``."""
    rng = np.random.default_rng(i)
    predictions: np.ndarray | None = rng.integers(0, 2, rows)
    scores: np.ndarray | None = rng.random(rows)
    if kind == "labels":
        predictions = np.array(["yes", "no"] * rows, dtype=object)[:rows]
    elif kind == "two-columns":
        predictions = rng.random((rows, 2))
    elif kind == "missing":
        predictions, scores = (None, None) if i % 2 else (predictions, scores)
    elif kind == "short" and i == 1:
        predictions, scores = predictions[:0], scores[:0]  # a model that answered no row
    names = ("a", "b")
    return LoggedRequest(
        f"r{i}", 1.7e9 + i, "e", f"route{i % 2}", "m", str(i % 3), bool(i % 2), 200, 0.5 * i, rows,
        {}, predictions, scores, [i] * rows if i % 3 else None, rng.random((rows, len(names))), names,
    )  # fmt: skip


@pytest.mark.parametrize("kind", ["numbers", "labels", "two-columns", "missing", "short"])
def test_single_row_requests_make_the_table_any_requests_make(kind: str) -> None:
    """The log's table of one-row requests (online serving's usual batch) is built a faster
    way; it holds what the general way gives for the same requests."""
    singles = [_request(i, 1, kind) for i in range(6)]
    fast = requests_table(singles)
    general = requests_table([*singles, _request(9, 2, kind)])
    assert fast.equals(general.slice(0, len(singles))), kind
    if kind in ("numbers", "missing", "short"):
        assert fast.column("prediction_label").null_count == len(singles)
    if kind == "short":
        assert np.isnan(fast.column("prediction").to_numpy()[1]) and np.isnan(fast.column("score").to_numpy()[1])


def test_the_log_keeps_statistics_where_readers_prune_and_spares_the_cpu_elsewhere(tmp_path: Path) -> None:
    """Readers of a window prune files by time (and by endpoint through the partition's
    folder), so the times keep their statistics and no other column pays for them; measured
    values and ids, which never repeat, are written plainly (no dictionary, and no
    compression where it saves nothing)."""
    writer = PredictionLogWriter(tmp_path / "log")
    for i in range(50):
        matrix = np.full((1, 2), float(i))
        writer.log(LoggedRequest(f"{i:032x}", 1.7e9 + i, "e", "r", "m", "1", False, 200, 0.5, 1, {}, np.array([i % 2]), np.array([0.25]), None, matrix, ("a", "b")))  # fmt: skip
    assert writer.flush() == 50
    (part,) = (tmp_path / "log" / "requests").rglob("*.parquet")
    meta = pq.ParquetFile(part).metadata
    columns = {meta.schema.column(j).name: meta.row_group(0).column(j) for j in range(meta.num_columns)}
    assert columns["timestamp"].is_stats_set and columns["timestamp"].statistics.has_min_max
    assert columns["timestamp"].statistics.min.timestamp() == 1.7e9
    for name in ("request_id", "endpoint", "version", "row", "input_a", "score"):
        assert not columns[name].is_stats_set, name
    for name in ("request_id", "timestamp", "input_a", "score"):
        assert not columns[name].has_dictionary_page, name
    for name in ("request_id", "input_a", "latency_ms"):
        assert columns[name].compression == "UNCOMPRESSED", name
    assert columns["endpoint"].has_dictionary_page and columns["endpoint"].compression == "SNAPPY"
