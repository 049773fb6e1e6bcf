"""Point-in-time joins on random data, checked row by row against a brute-force answer, on
each offline engine (DuckDB and Spark give the same answers)."""

from __future__ import annotations

import itertools
import textwrap
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modelyard.features import FeatureStore, _offline
from modelyard.features._entity_order import PARALLEL_ROWS, by_row_numbers
from modelyard.features._offline import build_query, connect

from .conftest import T0

TTL_HOURS = 30

REPO = textwrap.dedent(
    f"""
    from datetime import timedelta

    from modelyard.features import Entity, FeatureView, Field, FileSource, Float64, Int64

    rider = Entity(name="rider", join_keys=["rider_id"])

    recent = FeatureView(
        name="recent",
        entities=[rider],
        ttl=timedelta(hours={TTL_HOURS}),
        schema=[Field(name="speed", dtype=Float64), Field(name="trips", dtype=Int64)],
        source=FileSource(path="data/rides.parquet", timestamp_field="event_time", created_timestamp_column="created"),
    )

    forever = FeatureView(
        name="forever",
        entities=[rider],
        schema=[Field(name="speed", dtype=Float64), Field(name="trips", dtype=Int64)],
        source=FileSource(path="data/rides.parquet", timestamp_field="event_time", created_timestamp_column="created"),
    )

    plain = FeatureView(
        name="plain",
        entities=[rider],
        ttl=timedelta(hours={TTL_HOURS}),
        schema=[Field(name="score", dtype=Float64)],
        source=FileSource(path="data/scores.parquet", timestamp_field="event_time"),
    )

    plain_forever = FeatureView(
        name="plain_forever",
        entities=[rider],
        schema=[Field(name="score", dtype=Float64)],
        source=FileSource(path="data/scores.parquet", timestamp_field="event_time"),
    )
    """
)


def _rides(rng: np.random.Generator) -> pd.DataFrame:
    n = 600
    rider = rng.integers(0, 25, n)
    hour = rng.integers(0, 24 * 20, n)
    frame = pd.DataFrame(
        {
            "rider_id": rider,
            "event_time": [T0 + timedelta(hours=int(h)) for h in hour],
            # unique per (rider, event time), so the answer is unique; some re-writes lack it
            "created": [T0 + timedelta(hours=int(h), seconds=i) for i, h in enumerate(hour)],
            "speed": rng.normal(size=n),
            "trips": rng.integers(0, 100, n),
        }
    )
    rewrites = frame.sample(80, random_state=1).copy()  # same event time, created later
    rewrites["created"] = rewrites["created"] + timedelta(minutes=5)
    rewrites["speed"] = rng.normal(size=len(rewrites))
    stale = frame.sample(30, random_state=2).copy()  # same event time, no created: ranks lowest
    stale["created"] = pd.NaT
    stale["speed"] = 1e6
    frame = pd.concat([frame, rewrites, stale]).drop_duplicates(
        ["rider_id", "event_time", "created"]
    )
    frame.loc[frame.sample(40, random_state=3).index, "speed"] = np.nan  # null values are values
    return frame.sample(frac=1.0, random_state=4).reset_index(drop=True)


def _scores(rng: np.random.Generator) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "rider_id": rng.integers(0, 25, 300),
            "event_time": [T0 + timedelta(hours=int(h)) for h in rng.integers(0, 24 * 20, 300)],
        }
    ).drop_duplicates(["rider_id", "event_time"])
    frame["score"] = rng.normal(size=len(frame))
    return frame


def _entities(rides: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    n = 400
    times = [T0 + timedelta(minutes=int(m)) for m in rng.integers(-60 * 24, 60 * 24 * 22, n)]
    hit = rides.sample(60, random_state=5)  # exactly at an event time (and its re-writes)
    frame = pd.DataFrame(
        {
            "rider_id": np.concatenate([rng.integers(0, 30, n), hit["rider_id"].to_numpy()]),
            "event_timestamp": [*times, *hit["event_time"]],
            "label": np.arange(n + len(hit)),
        }
    )
    frame = pd.concat([frame, frame.iloc[:20]])  # duplicate entity rows
    return frame.sample(frac=1.0, random_state=6).reset_index(drop=True)


def _expected(
    entities: pd.DataFrame, source: pd.DataFrame, features: list[str], ttl: timedelta | None
) -> pd.DataFrame:
    out = []
    for rider, ts in zip(entities["rider_id"], entities["event_timestamp"], strict=True):
        rows = source[(source["rider_id"] == rider) & (source["event_time"] <= ts)]
        if ttl is not None:
            rows = rows[ts - rows["event_time"] <= ttl]
        if rows.empty:
            out.append(dict.fromkeys(features))
            continue
        if "created" in rows:
            rows = rows.assign(_c=rows["created"].fillna(pd.Timestamp.min.tz_localize("UTC")))
            best = rows.sort_values(["event_time", "_c"]).iloc[-1]
        else:
            best = rows.sort_values("event_time").iloc[-1]
        out.append({f: best[f] for f in features})
    return pd.DataFrame(out, index=entities.index)


@pytest.fixture
def rides_repo(tmp_path: Path) -> tuple[Path, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(20261129)
    repo = tmp_path / "rides_repo"
    (repo / "data").mkdir(parents=True)
    (repo / "definitions.py").write_text(REPO)
    rides = _rides(rng)
    scores = _scores(rng)
    rides.to_parquet(repo / "data" / "rides.parquet")
    scores.to_parquet(repo / "data" / "scores.parquet")
    return repo, rides, scores, _entities(rides, rng)


def _same(actual: pd.Series, expected: pd.Series) -> None:
    a = pd.to_numeric(actual, errors="coerce").to_numpy(dtype=float)
    e = pd.to_numeric(expected, errors="coerce").to_numpy(dtype=float)
    np.testing.assert_array_equal(np.isnan(a), np.isnan(e))
    np.testing.assert_array_equal(a[~np.isnan(a)], e[~np.isnan(e)])


@pytest.mark.parametrize("plan", ["late", "range", "asof"])
@pytest.mark.parametrize("view", ["recent", "forever"])
def test_latest_row_within_ttl_with_rewrites(
    rides_repo: tuple[Path, pd.DataFrame, pd.DataFrame, pd.DataFrame],
    fluent: str,
    view: str,
    plan: str,
    engine: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if plan == "asof":  # as if the join keys had long histories: the ASOF plan, same answer
        monkeypatch.setattr(_offline, "MAX_PAIRS_PER_ROW", 0)
    elif engine == "spark" and view == "forever":
        pytest.skip("without a TTL both plans are the as-of join: Spark runs it once")
    elif engine == "spark" and plan == "range":
        pytest.skip("the late fetch is DuckDB's plan: on Spark this is the 'late' case again")
    if plan == "range":  # as if the rows had no number (a folder, CSV, a query): no late fetch
        monkeypatch.setattr(_offline, "row_addressed", lambda *_: None)
    repo, rides, _, entities = rides_repo
    fs = FeatureStore(repo_path=repo, offline_engine=engine)
    fs.apply()
    frame = fs.get_historical_features(entities, [f"{view}:speed", f"{view}:trips"]).to_df()
    assert list(frame.columns) == ["rider_id", "event_timestamp", "label", "speed", "trips"]
    assert frame["label"].tolist() == entities["label"].tolist()  # the entity frame's order
    ttl = timedelta(hours=TTL_HOURS) if view == "recent" else None
    expected = _expected(entities, rides, ["speed", "trips"], ttl)
    _same(frame["speed"], expected["speed"])
    _same(frame["trips"], expected["trips"])
    assert frame["speed"].max() < 1e6  # a re-write without created time never wins


def test_views_with_and_without_created_time_together(
    rides_repo: tuple[Path, pd.DataFrame, pd.DataFrame, pd.DataFrame],
    fluent: str,
    tmp_path: Path,
    engine: str,
) -> None:
    repo, rides, scores, entities = rides_repo
    fs = FeatureStore(repo_path=repo, offline_engine=engine)
    fs.apply()
    refs = ["recent:speed", "forever:trips", "plain:score", "plain_forever:score"]
    job = fs.get_historical_features(entities, refs, full_feature_names=True)
    frame = job.to_df()
    ttl = timedelta(hours=TTL_HOURS)
    _same(frame["recent__speed"], _expected(entities, rides, ["speed"], ttl)["speed"])
    _same(frame["forever__trips"], _expected(entities, rides, ["trips"], None)["trips"])
    _same(frame["plain__score"], _expected(entities, scores, ["score"], ttl)["score"])
    _same(frame["plain_forever__score"], _expected(entities, scores, ["score"], None)["score"])
    written = pd.read_parquet(job.to_parquet(tmp_path / "out" / "training.parquet"))
    assert written["label"].tolist() == entities["label"].tolist()
    pd.testing.assert_frame_equal(written, frame, check_dtype=False)
    arrow = job.to_arrow()
    assert arrow.column_names == list(frame.columns)
    assert arrow.column("label").to_pylist() == entities["label"].tolist()


def test_runs_within_a_duckdb_memory_limit(
    rides_repo: tuple[Path, pd.DataFrame, pd.DataFrame, pd.DataFrame], fluent: str
) -> None:
    repo, rides, _, entities = rides_repo
    fs = FeatureStore(repo_path=repo)
    fs.apply()
    view = fs.get_feature_view("recent")
    con = connect(threads=1, memory_limit="64MB")
    limit = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    assert limit.startswith("61") or limit.startswith("64")  # 64 MB (DuckDB prints MiB)
    query = build_query(con, entities, [(view, ["speed"])], repo, full_feature_names=False)
    expected = _expected(entities, rides, ["speed"], timedelta(hours=TTL_HOURS))
    _same(query.arrow().column("speed").to_pandas(), expected["speed"])


def test_an_entity_column_named_like_the_row_number_is_refused(
    rides_repo: tuple[Path, pd.DataFrame, pd.DataFrame, pd.DataFrame], fluent: str, engine: str
) -> None:
    repo, _, _, entities = rides_repo
    fs = FeatureStore(repo_path=repo, offline_engine=engine)
    fs.apply()
    with pytest.raises(ValueError, match="reserved"):
        fs.get_historical_features(entities.assign(__row=1), ["recent:speed"]).to_df()


@pytest.mark.parametrize("stamps", ["aware", "naive", "strings"])
def test_the_callers_entity_frame_is_left_as_it_was(
    rides_repo: tuple[Path, pd.DataFrame, pd.DataFrame, pd.DataFrame], fluent: str, engine: str, stamps: str
) -> None:
    """The entity frame is read, never written: its timestamps are converted in a copy, and the
    row numbers are added to the copy (which shares the caller's other columns)."""
    repo, _, _, entities = rides_repo
    if stamps == "naive":
        entities = entities.assign(event_timestamp=entities["event_timestamp"].dt.tz_localize(None))
    elif stamps == "strings":
        entities = entities.assign(event_timestamp=entities["event_timestamp"].astype(str).astype(object))
    before = entities.copy(deep=True)
    fs = FeatureStore(repo_path=repo, offline_engine=engine)
    fs.apply()
    out = fs.get_historical_features(entities, ["recent:speed"]).to_df()
    assert len(out) == len(entities)
    assert str(out["event_timestamp"].dtype).startswith("datetime64") and "UTC" in str(out["event_timestamp"].dtype)
    pd.testing.assert_frame_equal(entities, before)
    assert list(entities.columns) == ["rider_id", "event_timestamp", "label"]


def test_the_store_passes_its_memory_limit_to_duckdb(
    rides_repo: tuple[Path, pd.DataFrame, pd.DataFrame, pd.DataFrame], fluent: str
) -> None:
    repo, rides, _, entities = rides_repo
    fs = FeatureStore(repo_path=repo, memory_limit="64MB", threads=1)
    fs.apply()
    job = fs.get_historical_features(entities, ["recent:speed"])
    limit = job._query.con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    assert limit.startswith(("61", "64"))
    expected = _expected(entities, rides, ["speed"], timedelta(hours=TTL_HOURS))
    _same(job.to_df()["speed"], expected["speed"])


def test_sources_without_row_numbers_use_the_early_plan(
    rides_repo: tuple[Path, pd.DataFrame, pd.DataFrame, pd.DataFrame], fluent: str
) -> None:
    """Late materialization fetches winners by their row number in one Parquet file; a folder
    (numbers repeat across files) and CSV read the features with the candidates instead."""
    repo, rides, _, entities = rides_repo
    (repo / "data" / "parts").mkdir()
    rides.iloc[::2].to_parquet(repo / "data" / "parts" / "a.parquet")
    rides.iloc[1::2].to_parquet(repo / "data" / "parts" / "b.parquet")
    rides.to_csv(repo / "data" / "rides.csv", index=False)
    expected = _expected(entities, rides, ["speed"], timedelta(hours=TTL_HOURS))
    for path, file_format in (("data/parts", "parquet"), ("data/rides.csv", "csv")):
        definitions = REPO.replace('"data/rides.parquet"', repr(path)).replace(
            'timestamp_field="event_time", created',
            f'file_format={file_format!r}, timestamp_field="event_time", created',
        )
        (repo / "definitions.py").write_text(definitions)
        fs = FeatureStore(repo_path=repo)
        fs.apply()
        query = fs.get_historical_features(entities, ["recent:speed"])._query
        assert _offline.RID not in query.sql
        _same(query.arrow().column("speed").to_pandas(), expected["speed"])


def test_threads_share_one_store_and_its_database(
    rides_repo: tuple[Path, pd.DataFrame, pd.DataFrame, pd.DataFrame], fluent: str
) -> None:
    """The store reuses one DuckDB database; each call has its own connection (and its own
    registered entity frame), so concurrent joins do not see each other's rows."""
    from concurrent.futures import ThreadPoolExecutor

    repo, rides, _, entities = rides_repo
    fs = FeatureStore(repo_path=repo)
    fs.apply()
    parts = [entities.iloc[i::4].reset_index(drop=True) for i in range(4)]

    def join(part: pd.DataFrame) -> pd.DataFrame:
        return fs.get_historical_features(part, ["recent:speed", "forever:trips"]).to_df()

    with ThreadPoolExecutor(4) as pool:
        frames = list(pool.map(join, parts * 2))
    for part, frame in zip(parts * 2, frames, strict=True):
        assert frame["label"].tolist() == part["label"].tolist()
        ttl = timedelta(hours=TTL_HOURS)
        _same(frame["speed"], _expected(part, rides, ["speed"], ttl)["speed"])
        _same(frame["trips"], _expected(part, rides, ["trips"], None)["trips"])


@pytest.mark.parametrize("rows", [1_000, PARALLEL_ROWS + 3])
def test_results_come_back_in_the_entity_frames_order_on_one_thread_or_several(rows: int) -> None:
    import pyarrow as pa

    rng = np.random.default_rng(7)
    order = rng.permutation(rows)  # the row numbers, as the join returns them
    speed = pa.array(order * 0.5, mask=order % 3 == 0)  # misses are nulls
    name = pa.array([f"r{i}" for i in order])
    when = pa.array(order.astype("datetime64[s]"), type=pa.timestamp("us", tz="UTC"))
    table = pa.Table.from_arrays(
        [name, when, speed, pa.array(order % 2 == 0), pa.array(order)],
        names=["rider", "event_timestamp", "speed", "__hit__v", _offline.ROW],
    ).replace_schema_metadata({"from": "join"})
    out = _offline.in_entity_order(table, ["__hit__v"])
    assert out.column_names == ["rider", "event_timestamp", "speed"]
    assert out.schema.metadata == {b"from": b"join"}
    assert out.column("rider").to_pylist() == [f"r{i}" for i in range(rows)]
    assert out.column("event_timestamp").to_numpy().astype("datetime64[s]").astype(int).tolist() == list(range(rows))
    expected_speed = [None if i % 3 == 0 else i * 0.5 for i in range(rows)]
    assert out.column("speed").to_pylist() == expected_speed
    kept = _offline.in_entity_order(table, ["__hit__v"], keep_hidden=True)
    assert kept.column("__hit__v").to_pylist() == [i % 2 == 0 for i in range(rows)]


def test_rows_are_scattered_to_their_numbers_exactly_as_arrow_takes_them() -> None:
    """Every column kind in many chunks, some sliced, some with nulls: the scatter (fixed-width
    columns) and Arrow's take (the others) give what one take through the inverse gives."""
    import datetime as dt
    from decimal import Decimal

    import pyarrow as pa

    rows = PARALLEL_ROWS + 1_001
    rng = np.random.default_rng(11)
    position = rng.permutation(rows)
    values = rng.integers(-1_000, 1_000, rows)
    missing = (position % 7 == 0) & (position < rows // 2)  # nulls in the first chunks only
    columns = {
        "i8": pa.array(values % 100, type=pa.int8(), mask=missing),
        "u16": pa.array(values % 1_000 + 1_000, type=pa.uint16()),
        "i32": pa.array(values, type=pa.int32(), mask=missing),
        "i64": pa.array(position, type=pa.int64()),
        "f16": pa.array((values / 8).astype(np.float16), type=pa.float16()),
        "f32": pa.array(values / 4, type=pa.float32(), mask=missing),
        "f64": pa.array(values / 3, mask=missing),
        "date": pa.array(values + 19_000, type=pa.int32(), mask=missing).view(pa.date32()),
        "time": pa.array(values * 1_000 + 5_000_000).view(pa.time64("us")),
        "when": pa.array(values * 10**6, mask=missing).view(pa.timestamp("us", tz="UTC")),
        "lag": pa.array(values).view(pa.duration("ms")),
        "span": pa.array([pa.MonthDayNano([1, int(v), 3]) for v in values], type=pa.month_day_nano_interval()),
        "name": pa.array([f"r{v}" for v in values], mask=missing),
        "flag": pa.array(values > 0, mask=missing),
        "money": pa.array([Decimal(int(v)) / 100 for v in values], type=pa.decimal128(9, 2)),
        "tags": pa.array([[int(v)] for v in values], mask=missing),
    }
    whole = pa.table(columns)
    cuts = [0, 5, 7_000, 30_000, 30_001, rows]  # uneven chunks, one of a single row
    batches = [whole.slice(a, b - a) for a, b in itertools.pairwise(cuts)]
    empty = pa.Table.from_arrays(
        [pa.array([], type=kind) for kind in whole.schema.types], schema=whole.schema
    )  # an empty chunk, whose arrays may hold no buffers
    batches.insert(2, empty)
    chunked = pa.concat_tables(batches)
    assert chunked.column("f64").num_chunks == len(batches)
    assert chunked.column("f64").chunk(3).offset > 0  # slices of one buffer: offsets are honoured
    inverse = np.empty(rows, dtype=np.int64)
    inverse[position] = np.arange(rows)
    expected = whole.take(inverse)
    out = by_row_numbers(chunked, position)
    assert out.schema == whole.schema
    for name in whole.column_names:
        assert out.column(name).equals(expected.column(name)), name
        assert out.column(name).null_count == expected.column(name).null_count, name
    assert out.column("i64").to_pylist() == list(range(rows))
    assert out.column("when").to_pylist()[:3] == [
        None if position[i] % 7 == 0 and position[i] < rows // 2 else
        dt.datetime.fromtimestamp(int(values[i]), tz=dt.UTC)
        for i in np.argsort(position)[:3]
    ]


@pytest.mark.parametrize(
    ("rows", "keys", "varied", "expected"),
    [
        (64 * 1_000, 1_000, "first", False),  # exactly at the rule's bound: the range join
        (64 * 1_000 + 1, 1_000, "first", True),  # one source row over it: the ASOF join
        (640, 50_000, "first", False),  # a prefix of the frame already has enough keys
        (64 * 1_000, 1_000, "last", False),  # the keys come late: the whole frame is counted
        (64 * 1_000 + 1, 1_000, "last", True),
    ],
)
def test_the_plan_rule_counts_distinct_join_keys_however_they_are_spread(
    rows: int, keys: int, varied: str, expected: bool
) -> None:
    from modelyard.features import Entity, FeatureView, Field, FileSource, Float64

    rng = np.random.default_rng(3)
    repeated = np.zeros(50_000, dtype=np.int64)  # one key, over and over
    parts = [rng.permutation(keys), repeated]
    ids = np.concatenate(parts if varied == "first" else parts[::-1])
    entities = pd.DataFrame({"rider_id": ids, "event_timestamp": pd.Timestamp(T0)})
    view = FeatureView(
        name="v",
        entities=[Entity(name="rider", join_keys=["rider_id"])],
        schema=[Field(name="speed", dtype=Float64)],
        source=FileSource(path="x.parquet", timestamp_field="event_timestamp"),
    )
    assert _offline.too_many_pairs(rows, view, entities) is expected
