"""Monitoring from mergeable profiles: each log file is read once, ever.

``update_profiles`` lists the endpoint's live log files, asks the store which writer files its
profiles already hold (the monitor's cursor), reads only the others (for a compacted file,
only the rows of writer files not yet seen), and folds their profiles, per hour of the rows'
timestamps, into the stored ones, in the transaction that advances the cursor.

``window_profile`` merges the stored hours that lie inside a window; only the window's ragged
edges (the parts of its first and last hour that the window cuts) are read as rows. Drift,
data quality and the row count then come from the merged profile (``drift_from_profile``,
``quality_from_profile``): a window of any size costs a few kilobytes per column and hour.
"""

from __future__ import annotations

import datetime as _dt
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from modelyard.core.errors import ConflictError, ValidationError
from modelyard.data._logfiles import SOURCE_COLUMN, LogFile, date_folders, list_files, stable_files
from modelyard.data._predlog import INPUT_PREFIX, default_log_root
from modelyard.monitoring._drift import (
    CATEGORICAL_TESTS,
    NUMERIC_TESTS,
    DriftOptions,
    DriftReport,
    categorical_from_counts,
    numeric_from_counts,
)
from modelyard.monitoring._sketch import CategorySketch, NumericSketch, Profile
from modelyard.monitoring._window import _ms, read_log
from modelyard.store._profile_store import ProfileStore
from modelyard.store._remote._profiles import HttpProfileStore

HOUR_MS = 3_600_000
BATCH = 1_000_000
FILES_PER_COMMIT = 500
OUTPUTS = ("prediction", "score")


@dataclass(frozen=True)
class ProfilePass:
    files_listed: int
    files_read: int
    rows_read: int
    folders_listed: int = 0


def _profiled_columns(names: list[str]) -> list[str]:
    return [n for n in names if n.startswith(INPUT_PREFIX) or n in OUTPUTS]


def _fold(table: pa.Table, hours: dict[int, Profile]) -> int:
    """Add the live, scored rows of ``table`` to the per-hour profiles; returns rows added."""
    keep = pc.and_(pc.equal(table["status"], 200), pc.invert(table["shadow"]))
    table = table.filter(keep)
    if not table.num_rows:
        return 0
    micros = table["timestamp"].cast(pa.int64()).to_numpy()
    hour = (micros // (HOUR_MS * 1000)) * HOUR_MS
    columns = _profiled_columns(table.column_names)
    distinct = np.unique(hour).tolist()
    for h in distinct:
        part = table.filter(pa.array(hour == h)) if len(distinct) > 1 else table
        hours.setdefault(int(h), Profile()).update(part, columns)
    return int(table.num_rows)


def _read_file(f: LogFile, unseen: set[str], hours: dict[int, Profile]) -> int:
    parquet = pq.ParquetFile(f.path)
    names = parquet.schema_arrow.names
    wanted = [
        n
        for n in names
        if n in ("timestamp", "status", "shadow", "model", "version", SOURCE_COLUMN)
        or n in _profiled_columns(names)
    ]
    partial = f.compacted and set(f.sources) != unseen
    date = f.date
    rows = 0
    for batch in parquet.iter_batches(batch_size=BATCH, columns=wanted):
        table = pa.Table.from_batches([batch])
        if partial:
            keys = pc.binary_join_element_wise(pa.scalar(date), table[SOURCE_COLUMN], "/")
            table = table.filter(pc.is_in(keys, pa.array(sorted(unseen))))
        rows += _fold(table, hours)
    return rows


def _merge_bytes(stored: bytes, new: bytes) -> bytes:
    return Profile.from_bytes(stored).merge(Profile.from_bytes(new)).to_bytes()


def update_profiles(
    store: ProfileStore | HttpProfileStore,
    endpoint: str,
    root: str | Path | None = None,
    *,
    attempts: int = 20,
    settle_ns: int = 2_000_000_000,
) -> ProfilePass:
    """Fold every log file not yet profiled into the endpoint's hourly profiles.

    A date folder whose modification time is the one recorded when all its files were last
    folded in is not listed again (a file added, renamed or deleted in it changes that time),
    so a pass costs a ``stat`` per past day. A folder is only recorded once its modification
    time is ``settle_ns`` old, so that a change within the same clock tick is never missed."""
    base = Path(root) if root is not None else default_log_root()
    marks = store.folder_marks(endpoint)
    stamps: dict[str, int] = {}
    folders = []
    for folder in date_folders(base / "requests" / f"endpoint={endpoint}"):
        stamp = folder.stat().st_mtime_ns
        if marks.get(folder.name[len("date=") :]) != stamp:
            stamps[folder.name[len("date=") :]] = stamp
            folders.append(folder)
    files_read = rows_read = 0
    listed = 0
    for _ in range(attempts):
        files = stable_files(folders, lambda found: found)
        listed = len(files)
        seen = store.seen(endpoint, [s for f in files for s in f.sources])
        todo = [(f, set(f.sources) - seen) for f in files]
        todo = [(f, unseen) for f, unseen in todo if unseen]
        try:
            for i in range(0, len(todo), FILES_PER_COMMIT):
                hours: dict[int, Profile] = {}
                names: list[str] = []
                for f, unseen in todo[i : i + FILES_PER_COMMIT]:
                    rows_read += _read_file(f, unseen, hours)
                    names.extend(sorted(unseen))
                    files_read += 1
                store.add(
                    endpoint,
                    names,
                    {h: (p.rows, p.to_bytes()) for h, p in hours.items()},
                    _merge_bytes,
                )
        except (FileNotFoundError, ConflictError):
            continue  # compaction moved rows, or another pass got there first: list again
        # a compaction between the listing and now may hold writer files we have not seen
        if [f.key for f in list_files(folders)] == [f.key for f in files]:
            settled = time.time_ns() - settle_ns
            store.mark_folders(endpoint, {d: m for d, m in stamps.items() if m < settled})
            return ProfilePass(listed, files_read, rows_read, len(folders))
    return ProfilePass(listed, files_read, rows_read, len(folders))


def _epoch_ms(value: _dt.datetime) -> int:
    return int(value.timestamp() * 1000)


def _raw_profile(endpoint: str, start_ms: int, end_ms: int, root: str | Path | None) -> Profile:
    start = _dt.datetime.fromtimestamp(start_ms / 1000, _dt.UTC)
    end = _dt.datetime.fromtimestamp(end_ms / 1000, _dt.UTC)
    frame = read_log(
        endpoint,
        "SELECT * FROM log WHERE timestamp >= CAST(? AS TIMESTAMPTZ) AND timestamp < CAST(? AS TIMESTAMPTZ)",
        [_ms(start), _ms(end)],
        root,
        first_day=start.strftime("%Y-%m-%d"),
        last_day=end.strftime("%Y-%m-%d"),
    )
    hours: dict[int, Profile] = {}
    if not frame.empty:
        _fold(pa.Table.from_pandas(frame, preserve_index=False), hours)
    out = Profile()
    for part in hours.values():
        out.merge(part)
    return out


def window_profile(
    store: ProfileStore | HttpProfileStore,
    endpoint: str,
    start: _dt.datetime,
    end: _dt.datetime,
    root: str | Path | None = None,
) -> Profile:
    """The profile of the live, scored rows with ``start <= timestamp < end``: stored hours
    merged, and the rows of the window's partial first and last hours read."""
    s, e = _epoch_ms(start), _epoch_ms(end)
    first_full = -(-s // HOUR_MS) * HOUR_MS
    last_full = (e // HOUR_MS) * HOUR_MS
    out = Profile()
    if first_full >= last_full:
        return out.merge(_raw_profile(endpoint, s, e, root))
    for _, _, blob in store.hours(endpoint, first_full, last_full):
        out.merge(Profile.from_bytes(blob))
    if s < first_full:
        out.merge(_raw_profile(endpoint, s, first_full, root))
    if last_full < e:
        out.merge(_raw_profile(endpoint, last_full, e, root))
    return out


def _tail_distance(sketch: NumericSketch, low: float, high: float) -> float:
    items, weights = sketch.items()
    return float(
        (np.clip(low - items, 0, None) * weights).sum()
        + (np.clip(items - high, 0, None) * weights).sum()
    )


def drift_from_profile(
    reference: dict[str, dict[str, Any]],
    profile: Profile,
    *,
    columns: list[str],
    options: DriftOptions | None = None,
) -> DriftReport:
    """``detect_drift`` over a profile's sketches (``columns`` named as in the reference;
    profile columns carry the log's ``input_`` prefix)."""
    opts = options or DriftOptions()
    missing = [c for c in columns if c not in reference]
    if missing:
        raise ValidationError(
            f"the reference has no column{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))}"
        )
    tested = [c for c in columns if reference[c].get("kind") in ("numeric", "categorical")]
    alpha = opts.alpha / max(len(tested), 1) if opts.correction == "bonferroni" else opts.alpha
    results = []
    for name in tested:
        spec = reference[name]
        logged = INPUT_PREFIX + name if INPUT_PREFIX + name in profile.columns else name
        if spec["kind"] == "numeric":
            test = opts.per_column.get(name, opts.numeric_test)
            if test not in NUMERIC_TESTS:
                raise ValidationError(
                    f"column {name!r} is numeric; {test!r} is not one of {list(NUMERIC_TESTS)}"
                )
            sketch = profile.sketch(logged, "numeric")
            if profile.sketch(logged, "categorical") is not None and (
                sketch is None or sketch.count == 0
            ):
                raise ValidationError(
                    f"column {name!r} is numeric in the reference but text now (schema change)"
                )
            numeric = sketch if isinstance(sketch, NumericSketch) else NumericSketch()
            edges = np.asarray(spec.get("edges") or [], dtype=np.float64)
            counts = numeric.counts_on(edges) if len(edges) >= 2 else np.zeros(1)
            beyond = (
                _tail_distance(numeric, float(edges[0]), float(edges[-1]))
                if len(edges) >= 2 and numeric.count
                else 0.0
            )
            std = (
                float(
                    np.sqrt(
                        max(
                            numeric.squares / numeric.count - (numeric.total / numeric.count) ** 2,
                            0.0,
                        )
                    )
                )
                if numeric.count
                else 0.0
            )
            slack = numeric.rank_error if numeric.count else 0.0
            column = numeric_from_counts(
                name, spec, counts, numeric.count, beyond, std, test, alpha, opts, slack
            )
            if numeric.count:
                column.note = (
                    column.note + "; " if column.note else ""
                ) + f"from a KLL sketch (rank error {numeric.rank_error:.4f})"
            results.append(column)
        else:
            test = opts.per_column.get(name, opts.categorical_test)
            if test not in CATEGORICAL_TESTS:
                raise ValidationError(
                    f"column {name!r} is categorical; {test!r} is not one of {list(CATEGORICAL_TESTS)}"
                )
            cats = CategorySketch()
            for kind in ("categorical", "numeric"):
                found = profile.sketch(logged, kind)
                if isinstance(found, CategorySketch):
                    cats.merge(found)
            counted = cats.series()
            if cats.other:
                counted = pd.concat([counted, pd.Series({"(other)": cats.other})])
            results.append(categorical_from_counts(name, spec, counted, test, alpha, opts))
    judged = [r for r in results if r.drifted is not None]
    share = sum(1 for r in judged if r.drifted) / len(judged) if judged else 0.0
    return DriftReport(
        results, share, bool(judged) and share >= opts.drift_share, opts.drift_share, profile.rows
    )


def quality_from_profile(
    profile: Profile, reference: dict[str, dict[str, Any]], columns: list[str]
) -> tuple[dict[str, dict[str, float]], list[str]]:
    """``measures.quality`` from a profile: null rate, share out of the reference's range
    (from the sketch's ranks), share of unseen categories."""
    per_column: dict[str, dict[str, float]] = {}
    findings: list[str] = []
    for name in columns:
        kinds = profile.columns.get(INPUT_PREFIX + name)
        if kinds is None:
            findings.append(f"column {name!r} is missing from the logs")
            continue
        ref = reference.get(name, {})
        count = sum(s.count for s in kinds.values())
        nulls = sum(s.nulls for s in kinds.values())
        total = count + nulls
        stats: dict[str, float] = {"null_rate": float(nulls / total) if total else 0.0}
        ref_total = ref.get("count", 0) + ref.get("nulls", 0)
        stats["reference_null_rate"] = float(ref.get("nulls", 0) / ref_total) if ref_total else 0.0
        numeric = kinds.get("numeric")
        cats = kinds.get("categorical")
        if ref.get("kind") == "numeric":
            if isinstance(cats, CategorySketch) and cats.count:
                findings.append(f"column {name!r} was numeric in the reference and is text now")
            elif isinstance(numeric, NumericSketch) and numeric.count and ref.get("count"):
                items, weights = numeric.items()
                outside = weights[(items < ref["min"]) | (items > ref["max"])].sum()
                stats["out_of_range"] = float(outside / weights.sum())
        elif ref.get("kind") == "categorical" and isinstance(cats, CategorySketch) and cats.count:
            known = set(ref.get("categories", {}))
            unseen = sum(n for c, n in cats.categories.items() if c not in known) + cats.other
            stats["unseen_share"] = float(unseen / cats.count) if not ref.get("other") else 0.0
        if total and count == 0:
            findings.append(f"column {name!r} is entirely null in this window")
        per_column[name] = stats
    return per_column, findings


def reference_from_sketch(sketch: NumericSketch, bins: int = 100) -> dict[str, Any]:
    """A drift reference (``data._reference`` shape) from a sketch: edges at its quantiles."""
    if sketch.count == 0:
        return {"kind": "numeric", "count": 0, "nulls": sketch.nulls, "edges": [], "counts": []}
    inner = np.asarray(
        sketch.kll.get_quantiles(np.linspace(0.0, 1.0, bins + 1)[1:-1].tolist()), dtype=np.float64
    )
    edges = np.unique(np.concatenate([[sketch.low], inner, [sketch.high]]))
    mean = sketch.total / sketch.count
    return {
        "kind": "numeric",
        "count": sketch.count,
        "nulls": sketch.nulls,
        "edges": edges.tolist(),
        "counts": sketch.counts_on(edges).tolist(),
        "mean": mean,
        "std": float(np.sqrt(max(sketch.squares / sketch.count - mean**2, 0.0))),
        "min": sketch.low,
        "max": sketch.high,
    }


def reference_columns(profile: Profile) -> list[str]:
    return [n[len(INPUT_PREFIX) :] for n in profile.columns if n.startswith(INPUT_PREFIX)]
