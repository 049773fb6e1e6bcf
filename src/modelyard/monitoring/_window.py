"""Reading a window of the prediction log (and the feedback that labels it) with DuckDB."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from modelyard.data._logfiles import SOURCE_COLUMN, LogFile, date_folders, stable_files, utc_date
from modelyard.data._predlog import INPUT_PREFIX, default_log_root


def _glob(root: Path, *parts: str) -> str | None:
    folder = root.joinpath(*parts)
    if not folder.is_dir() or not any(folder.rglob("*.parquet")):
        return None
    return str(folder / "**" / "*.parquet")


def _ms(value: _dt.datetime) -> str:
    return value.astimezone(_dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def read_log(
    endpoint: str,
    sql: str,
    params: list[Any],
    root: str | Path | None = None,
    *,
    first_day: str | None = None,
    last_day: str | None = None,
) -> pd.DataFrame:
    """Run ``sql`` (reading the view ``log``) over the live files of an endpoint's log, as one
    consistent snapshot even while compaction runs (see ``modelyard.data._logfiles``)."""
    base = Path(root) if root is not None else default_log_root()
    folders = date_folders(base / "requests" / f"endpoint={endpoint}", first_day, last_day)

    def read(files: list[LogFile]) -> pd.DataFrame:
        if not files:
            return pd.DataFrame()
        paths = "[" + ", ".join("'" + str(f.path).replace("'", "''") + "'" for f in files) + "]"
        try:
            with duckdb.connect() as con:
                con.execute("SET TimeZone = 'UTC'")
                con.execute(
                    "CREATE VIEW log AS SELECT * EXCLUDE (date) "
                    f"FROM read_parquet({paths}, hive_partitioning = true, union_by_name = true)"
                )
                return con.execute(sql, params).df()
        except duckdb.IOException as error:
            if "No such file" in str(error) or "No files found" in str(error):
                raise FileNotFoundError(str(error)) from error
            raise

    return stable_files(folders, read)


def load_requests(
    endpoint: str, start: _dt.datetime, end: _dt.datetime, root: str | Path | None = None
) -> pd.DataFrame:
    """Logged rows of ``endpoint`` with ``start <= timestamp < end`` (every status, shadows too)."""
    frame = read_log(
        endpoint,
        "SELECT * FROM log WHERE timestamp >= CAST(? AS TIMESTAMPTZ) AND timestamp < CAST(? AS TIMESTAMPTZ)",
        [_ms(start), _ms(end)],
        root,
        first_day=utc_date(start),
        last_day=utc_date(end),
    )
    return frame.drop(columns=[c for c in ("endpoint", SOURCE_COLUMN) if c in frame.columns])


def first_timestamp(endpoint: str, root: str | Path | None = None) -> _dt.datetime | None:
    base = Path(root) if root is not None else default_log_root()
    for folder in date_folders(base / "requests" / f"endpoint={endpoint}"):
        day = folder.name[len("date=") :]  # the first day with rows holds the first timestamp
        frame = read_log(endpoint, "SELECT min(timestamp) AS first FROM log", [], root, first_day=day, last_day=day)
        if not frame.empty and not pd.isna(frame["first"].iloc[0]):
            stamp: _dt.datetime = frame["first"].iloc[0].to_pydatetime()
            return stamp if stamp.tzinfo else stamp.replace(tzinfo=_dt.UTC)
    return None


def load_feedback(root: str | Path | None = None) -> pd.DataFrame:
    base = Path(root) if root is not None else default_log_root()
    pattern = _glob(base, "feedback")
    if pattern is None:
        return pd.DataFrame(columns=["timestamp", "request_id", "row", "entity_key", "endpoint", "label", "label_text"])
    with duckdb.connect() as con:
        return con.execute(
            "SELECT * EXCLUDE (date) FROM read_parquet(?, hive_partitioning = true, union_by_name = true)", [pattern]
        ).df()


def known_request_ids(endpoint: str, end: _dt.datetime, root: str | Path | None = None) -> set[str]:
    """Every request id logged for ``endpoint`` before ``end``."""
    frame = read_log(
        endpoint,
        "SELECT DISTINCT request_id FROM log WHERE timestamp < CAST(? AS TIMESTAMPTZ)",
        [_ms(end)],
        root,
        last_day=utc_date(end),
    )
    return set(frame["request_id"]) if not frame.empty else set()


def with_labels(requests: pd.DataFrame, feedback: pd.DataFrame) -> pd.DataFrame:
    """``requests`` with a ``label`` column from feedback: by request id (and row), or by
    entity key (the latest live prediction for that key gets the latest label)."""
    out = requests.copy()
    out["label"] = float("nan")
    if requests.empty or feedback.empty:
        return out
    labels = feedback.copy()
    labels["label"] = labels["label"].astype("float64")
    by_id = labels[labels["request_id"].notna()]
    if not by_id.empty:
        by_id = by_id.sort_values("timestamp").drop_duplicates(["request_id", "row"], keep="last")
        exact = by_id[by_id["row"].notna()].astype({"row": "int64"})
        whole = by_id[by_id["row"].isna()][["request_id", "label"]]
        key = out["request_id"] + "#" + out["row"].astype("int64").astype(str)
        if not exact.empty:
            exact_map = dict(zip(exact["request_id"] + "#" + exact["row"].astype(str), exact["label"], strict=True))
            out["label"] = key.map(exact_map).astype("float64")
        if not whole.empty:
            whole_map = dict(zip(whole["request_id"], whole["label"], strict=True))
            out["label"] = out["label"].fillna(out["request_id"].map(whole_map).astype("float64"))
    by_key = labels[labels["request_id"].isna() & labels["entity_key"].notna()]
    if not by_key.empty and "entity_key" in out.columns:
        latest = by_key.sort_values("timestamp").drop_duplicates("entity_key", keep="last")
        key_map = dict(zip(latest["entity_key"], latest["label"], strict=True))
        # the latest live prediction per key gets the label
        live = out[~out["shadow"]].sort_values("timestamp")
        last_rows = live.drop_duplicates("entity_key", keep="last").index
        fill = out.loc[last_rows, "entity_key"].map(key_map)
        out.loc[last_rows, "label"] = out.loc[last_rows, "label"].fillna(fill.astype("float64"))
    return out


def input_columns(requests: pd.DataFrame) -> list[str]:
    return [c for c in requests.columns if c.startswith(INPUT_PREFIX)]
