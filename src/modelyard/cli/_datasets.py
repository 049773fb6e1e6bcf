"""``modelyard datasets``: list, show, diff."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

import typer

from modelyard.cli._common import Json, TrackingUri, client
from modelyard.cli._output import emit_json, friendly_errors, table, when
from modelyard.core.entities import DatasetVersion
from modelyard.core.errors import NotFoundError
from modelyard.core.formatting import number

app = typer.Typer(
    help="Versioned datasets: content hash, schema, statistics.", no_args_is_help=True
)

Name = Annotated[str, typer.Argument(help="Dataset name.")]


def dataset_json(d: DatasetVersion, created: int | None = None) -> dict[str, Any]:
    out = {
        "name": d.name,
        "digest": d.digest,
        "source_type": d.source_type,
        "source": d.source,
        "num_rows": d.num_rows,
        "schema": d.schema,
        "profile": d.profile,
    }
    if created is not None:
        out["created_time"] = created
    return out


@app.command("list")
def list_(
    name: Annotated[str | None, typer.Argument(help="Only this dataset's versions.")] = None,
    tracking_uri: TrackingUri = None,
    json: Json = False,
) -> None:
    """List dataset versions, newest first."""
    with friendly_errors():
        found = client(tracking_uri).store.list_dataset_versions(name)
    if json:
        emit_json([dataset_json(d, t) for d, t in found])
        return
    table(
        "Dataset versions",
        ["name", "version", "rows", "columns", "source", "created"],
        [[d.name, d.digest[:12], d.num_rows, len(d.schema), d.source, when(t)] for d, t in found],
    )


def _top(stats: dict[str, Any], rows: int | None) -> str:
    """The most frequent values of a categorical column; none for a column of distinct
    values (ids, timestamps), where they would be arbitrary."""
    distinct = stats.get("distinct")
    if distinct is not None and rows and distinct >= rows * (1 - stats.get("null_rate", 0)) * 0.99:
        return f"all distinct ({distinct:,})"
    return ", ".join(list(stats.get("frequencies") or {})[:3]) or "-"


def _stats_rows(d: DatasetVersion) -> list[list[Any]]:
    rows = []
    for column, stats in (d.profile.get("columns") or {}).items():
        quantiles = stats.get("quantiles") or {}
        top = _top(stats, d.num_rows) if stats.get("kind") == "categorical" else "-"
        rows.append(
            [
                column,
                d.schema.get(column, "-"),
                f"{stats.get('null_rate', 0) * 100:.1f}%",
                number(stats.get("mean")),
                number(quantiles.get("0.5")),
                top or "-",
            ]
        )
    return rows


@app.command()
def show(
    name: Name,
    version: Annotated[str | None, typer.Argument(help="Digest or a unique prefix of it (default: the latest version).")] = None,
    tracking_uri: TrackingUri = None,
    json: Json = False,
) -> None:
    """Show a version's schema, statistics and a sample of its rows (the latest version unless one is named)."""
    with friendly_errors():
        store = client(tracking_uri).store
        if version is None:
            found = store.list_dataset_versions(name)
            if not found:
                known = sorted({v.name for v, _ in store.list_dataset_versions()})[:10]
                raise NotFoundError(f"dataset {name!r} has no versions; datasets: {', '.join(map(repr, known)) or 'none yet'}")
            d = found[0][0]
        else:
            d = store.find_dataset_version(name, version)
    if json:
        emit_json(dataset_json(d))
        return
    table(
        f"{d.name} @ {d.digest[:12]}: {d.num_rows:,} rows from {d.source}",
        ["column", "type", "nulls", "mean", "median", "top values"],
        _stats_rows(d),
    )
    sample = d.profile.get("sample") or []
    if sample:
        columns = list(sample[0])
        table(
            f"sample: the first {len(sample)} rows",
            columns,
            [[_sample_cell(row.get(c)) for c in columns] for row in sample],
        )


def _sample_cell(value: Any) -> str:
    """A sample cell as people read it: 4 significant digits, times to the second."""
    if isinstance(value, float):
        return number(value)
    if isinstance(value, str) and len(value) >= 19 and value[4:5] == "-" and value[10:11] in (" ", "T"):
        try:
            stamp = datetime.fromisoformat(value)
        except ValueError:
            return value
        return stamp.strftime("%Y-%m-%d %H:%M:%S") + (" UTC" if stamp.utcoffset() == timedelta(0) else "")
    return "-" if value is None else str(value)


@app.command()
def diff(
    name: Name,
    a: Annotated[str, typer.Argument(help="Older version (digest prefix).")],
    b: Annotated[str, typer.Argument(help="Newer version (digest prefix).")],
    tracking_uri: TrackingUri = None,
    json: Json = False,
) -> None:
    """Schema and statistics changes between two versions."""
    with friendly_errors():
        store = client(tracking_uri).store
        da, db = store.find_dataset_version(name, a), store.find_dataset_version(name, b)
    changes: list[dict[str, Any]] = []
    for column in sorted(set(da.schema) | set(db.schema)):
        ta, tb = da.schema.get(column), db.schema.get(column)
        if ta != tb:
            changes.append(
                {
                    "column": column,
                    "change": "added" if ta is None else "removed" if tb is None else "type",
                    "a": ta,
                    "b": tb,
                }
            )
            continue
        sa, sb = (
            da.profile.get("columns", {}).get(column, {}),
            db.profile.get("columns", {}).get(column, {}),
        )
        for stat in ("null_rate", "mean", "std"):
            va, vb = sa.get(stat), sb.get(stat)
            if va is not None and vb is not None and abs(va - vb) > 1e-9:
                changes.append({"column": column, "change": stat, "a": va, "b": vb})
        qa, qb = (sa.get("quantiles") or {}).get("0.5"), (sb.get("quantiles") or {}).get("0.5")
        if qa is not None and qb is not None and abs(qa - qb) > 1e-9:
            changes.append({"column": column, "change": "median", "a": qa, "b": qb})
    if json:
        emit_json(
            {"a": da.digest, "b": db.digest, "rows": [da.num_rows, db.num_rows], "changes": changes}
        )
        return
    table(
        f"{name}: {da.digest[:12]} ({da.num_rows} rows) → {db.digest[:12]} ({db.num_rows} rows)",
        ["column", "change", "a", "b"],
        [
            [
                c["column"],
                c["change"],
                number(c["a"]) if isinstance(c["a"], float) else c["a"],
                number(c["b"]) if isinstance(c["b"], float) else c["b"],
            ]
            for c in changes
        ],
        caption="No schema or statistics changes." if not changes else None,
    )
