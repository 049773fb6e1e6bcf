"""Reading a window of the prediction log (and the feedback that labels it) with DuckDB."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

import duckdb
import pandas as pd

from modelyard.data._predlog import INPUT_PREFIX, default_log_root


def _glob(root: Path, *parts: str) -> str | None:
    folder = root.joinpath(*parts)
    if not folder.is_dir() or not any(folder.rglob("*.parquet")):
        return None
    return str(folder / "**" / "*.parquet")


def _ms(value: _dt.datetime) -> str:
    return value.astimezone(_dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def load_requests(
    endpoint: str, start: _dt.datetime, end: _dt.datetime, root: str | Path | None = None
) -> pd.DataFrame:
    """Logged rows of ``endpoint`` with ``start <= timestamp < end`` (every status, shadows too)."""
    base = Path(root) if root is not None else default_log_root()
    pattern = _glob(base, "requests", f"endpoint={endpoint}")
    if pattern is None:
        return pd.DataFrame()
    first_day = start.astimezone(_dt.UTC).strftime("%Y-%m-%d")
    last_day = end.astimezone(_dt.UTC).strftime("%Y-%m-%d")
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        frame = con.execute(
            "SELECT * EXCLUDE (date) FROM read_parquet(?, hive_partitioning = true, union_by_name = true) "
            "WHERE date BETWEEN ? AND ? AND timestamp >= CAST(? AS TIMESTAMPTZ) AND timestamp < CAST(? AS TIMESTAMPTZ)",
            [pattern, first_day, last_day, _ms(start), _ms(end)],
        ).df()
    frame = frame.drop(columns=[c for c in ("endpoint",) if c in frame.columns])
    return frame


def first_timestamp(endpoint: str, root: str | Path | None = None) -> _dt.datetime | None:
    base = Path(root) if root is not None else default_log_root()
    pattern = _glob(base, "requests", f"endpoint={endpoint}")
    if pattern is None:
        return None
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        value = con.execute(
            "SELECT min(timestamp) FROM read_parquet(?, hive_partitioning = true, union_by_name = true)", [pattern]
        ).fetchone()
    if value is None or value[0] is None:
        return None
    stamp: _dt.datetime = value[0]
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=_dt.UTC)


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
    base = Path(root) if root is not None else default_log_root()
    pattern = _glob(base, "requests", f"endpoint={endpoint}")
    if pattern is None:
        return set()
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        rows = con.execute(
            "SELECT DISTINCT request_id FROM read_parquet(?, hive_partitioning = true, union_by_name = true) "
            "WHERE timestamp < CAST(? AS TIMESTAMPTZ)",
            [pattern, _ms(end)],
        ).fetchall()
    return {r[0] for r in rows}


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
