"""Mergeable profiles of prediction-log rows: what a drift test needs, in a few kilobytes.

Per column: the count of values and of nulls and, for numbers, a KLL quantile sketch (Apache
DataSketches, ``k`` = 400: every rank it answers is within 0.86 % of the true rank, all
ranks at once, with 99 % confidence; about 10 KB per column and hour at most) with the exact minimum, maximum, sum and sum of squares; for other
values, the count of each category (at most ``MAX_CATEGORIES`` are kept by name, the rest are
counted as "other"). Profiles of disjoint sets of rows merge into the profile of their union,
so a window's profile is the merge of its hours' profiles and no row is read twice.

Drift from a profile bins the current values on the reference's edges through the sketch's CDF;
the Kolmogorov-Smirnov statistic so obtained is within the sketch's rank error of the one the
raw rows give (``NumericSketch.rank_error``). The p-value is computed for the statistic minus
that error: a verdict from a sketch is conservative (it never reports a drift that the rows
would not show by the p-value), at the price of missing KS gaps smaller than the error.
"""

from __future__ import annotations

import base64
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from datasketches import kll_doubles_sketch

K = 400
MAX_CATEGORIES = 10_000


def _is_numeric_type(kind: pa.DataType) -> bool:
    return bool(
        pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)
    )


@dataclass
class NumericSketch:
    count: int = 0
    nulls: int = 0
    total: float = 0.0
    squares: float = 0.0
    low: float = float("inf")
    high: float = float("-inf")
    kll: kll_doubles_sketch = field(default_factory=lambda: kll_doubles_sketch(K))

    kind = "numeric"

    def update(self, values: np.ndarray) -> None:
        finite = values[np.isfinite(values)]
        self.nulls += int(values.size - finite.size)
        if finite.size:
            self.count += int(finite.size)
            self.total += float(finite.sum())
            self.squares += float(np.square(finite).sum())
            self.low = min(self.low, float(finite.min()))
            self.high = max(self.high, float(finite.max()))
            self.kll.update(finite)

    def merge(self, other: NumericSketch) -> None:
        self.count += other.count
        self.nulls += other.nulls
        self.total += other.total
        self.squares += other.squares
        self.low = min(self.low, other.low)
        self.high = max(self.high, other.high)
        self.kll.merge(other.kll)

    @property
    def rank_error(self) -> float:
        """The sketch's normalized rank error over all ranks at once (99 % confidence)."""
        return float(kll_doubles_sketch.get_normalized_rank_error(self.kll.k, True))

    def counts_on(self, edges: np.ndarray) -> np.ndarray:
        """Values per bin of ``edges`` as ``np.searchsorted(edges[1:-1], x, 'left')`` bins
        them: bin i holds ``edges[i] < x <= edges[i+1]``, the outer bins are open."""
        bins = max(len(edges) - 1, 1)
        if self.count == 0:
            return np.zeros(bins)
        interior = [float(e) for e in edges[1:-1]]
        if not interior:
            return np.asarray([float(self.count)])
        cdf = np.asarray(
            self.kll.get_cdf(interior, True), dtype=np.float64
        )  # P(x <= edge), then 1.0
        return np.diff(np.concatenate([[0.0], cdf])) * self.count

    def items(self) -> tuple[np.ndarray, np.ndarray]:
        """The sketch's retained values and their weights (they sum to ``count``)."""
        if self.count == 0:
            return np.zeros(0), np.zeros(0)
        pairs = list(self.kll)
        return np.asarray([p[0] for p in pairs], dtype=np.float64), np.asarray(
            [p[1] for p in pairs], dtype=np.float64
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "numeric",
            "count": self.count,
            "nulls": self.nulls,
            "sum": self.total,
            "sumsq": self.squares,
            "min": self.low if self.count else None,
            "max": self.high if self.count else None,
            "kll": base64.b64encode(self.kll.serialize()).decode(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NumericSketch:
        return cls(
            int(data["count"]),
            int(data["nulls"]),
            float(data["sum"]),
            float(data["sumsq"]),
            float("inf") if data["min"] is None else float(data["min"]),
            float("-inf") if data["max"] is None else float(data["max"]),
            kll_doubles_sketch.deserialize(base64.b64decode(data["kll"])),
        )


@dataclass
class CategorySketch:
    count: int = 0
    nulls: int = 0
    categories: dict[str, int] = field(default_factory=dict)
    other: int = 0

    kind = "categorical"

    def add(self, counts: dict[str, int]) -> None:
        for name, n in counts.items():
            if name in self.categories or len(self.categories) < MAX_CATEGORIES:
                self.categories[name] = self.categories.get(name, 0) + n
            else:
                self.other += n

    def update(self, values: pa.Array) -> None:
        self.nulls += values.null_count
        present = values.drop_null()
        self.count += len(present)
        if len(present):
            counted = pc.value_counts(
                present.cast(pa.string()) if not pa.types.is_string(present.type) else present
            )
            self.add(
                dict(
                    zip(
                        counted.field("values").to_pylist(),
                        counted.field("counts").to_pylist(),
                        strict=True,
                    )
                )
            )

    def merge(self, other: CategorySketch) -> None:
        self.count += other.count
        self.nulls += other.nulls
        self.other += other.other
        self.add(other.categories)

    def series(self) -> pd.Series:
        return pd.Series(self.categories, dtype="int64")

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "categorical",
            "count": self.count,
            "nulls": self.nulls,
            "categories": self.categories,
            "other": self.other,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CategorySketch:
        return cls(
            int(data["count"]), int(data["nulls"]), dict(data["categories"]), int(data["other"])
        )


ColumnSketch = NumericSketch | CategorySketch


@dataclass
class Profile:
    """The mergeable profile of some live, scored rows of the log."""

    rows: int = 0
    versions: dict[str, int] = field(default_factory=dict)  # "model\\x00version" -> rows
    columns: dict[str, dict[str, ColumnSketch]] = field(
        default_factory=dict
    )  # name -> kind -> sketch

    def sketch(self, name: str, kind: str) -> ColumnSketch | None:
        return self.columns.get(name, {}).get(kind)

    def update(self, table: pa.Table, columns: list[str]) -> None:
        """Add the rows of ``table`` (already only live, scored rows) for ``columns``."""
        self.rows += table.num_rows
        if not table.num_rows:
            return
        if "model" in table.column_names and "version" in table.column_names:
            pairs = pc.binary_join_element_wise(
                table["model"].cast(pa.string()), table["version"].cast(pa.string()), "\x00"
            )
            counted = pc.value_counts(pairs)
            for key, n in zip(
                counted.field("values").to_pylist(),
                counted.field("counts").to_pylist(),
                strict=True,
            ):
                if key is not None:
                    self.versions[key] = self.versions.get(key, 0) + n
        for name in columns:
            if name not in table.column_names:
                continue
            column = (
                table[name].combine_chunks()
                if isinstance(table[name], pa.ChunkedArray)
                else table[name]
            )
            kinds = self.columns.setdefault(name, {})
            if pa.types.is_null(column.type):  # a column all null in this file: nulls only
                nulls = (
                    kinds.get("numeric")
                    or kinds.get("categorical")
                    or kinds.setdefault("numeric", NumericSketch())
                )
                nulls.nulls += len(column)
            elif _is_numeric_type(column.type):
                numeric = kinds.get("numeric")
                if not isinstance(numeric, NumericSketch):
                    numeric = kinds["numeric"] = NumericSketch()
                numeric.update(column.cast(pa.float64()).to_numpy(zero_copy_only=False))
            else:
                categories = kinds.get("categorical")
                if not isinstance(categories, CategorySketch):
                    categories = kinds["categorical"] = CategorySketch()
                categories.update(column)

    def merge(self, other: Profile) -> Profile:
        self.rows += other.rows
        for key, n in other.versions.items():
            self.versions[key] = self.versions.get(key, 0) + n
        for name, kinds in other.columns.items():
            mine = self.columns.setdefault(name, {})
            for kind, sketch in kinds.items():
                if kind in mine:
                    mine[kind].merge(sketch)  # type: ignore[arg-type]
                else:
                    mine[kind] = type(sketch).from_dict(
                        sketch.to_dict()
                    )  # a copy: merges must not alias
        return self

    def to_bytes(self) -> bytes:
        data = {
            "rows": self.rows,
            "versions": self.versions,
            "columns": {
                name: {kind: s.to_dict() for kind, s in kinds.items()}
                for name, kinds in self.columns.items()
            },
        }
        return zlib.compress(orjson.dumps(data), 3)

    @classmethod
    def from_bytes(cls, raw: bytes) -> Profile:
        data = orjson.loads(zlib.decompress(raw))
        columns: dict[str, dict[str, ColumnSketch]] = {}
        for name, kinds in data["columns"].items():
            columns[name] = {
                kind: (
                    NumericSketch.from_dict(s) if kind == "numeric" else CategorySketch.from_dict(s)
                )
                for kind, s in kinds.items()
            }
        return cls(int(data["rows"]), dict(data["versions"]), columns)
