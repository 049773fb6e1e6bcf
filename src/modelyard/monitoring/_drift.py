"""Drift tests of current data against a reference, column by column, with one verdict.

The reference is a stored profile (quantile histograms and category counts, see
``modelyard.data._reference``) or raw rows, which are profiled first. Current values are
binned on the reference's edges, so every statistic comes from two count vectors:

* numbers: Kolmogorov-Smirnov on the binned distributions (the reference's 100 quantile
  bins; exact at the edges, conservative inside them), PSI, normalized Wasserstein
  (divided by the reference's standard deviation) and Jensen-Shannon distance;
* categories: the two-sample chi-squared test of the contingency table (both sides are
  samples: the reference's counts are not treated as exact), PSI and Jensen-Shannon.

Defaults (``DriftOptions``): numbers are judged by KS, categories by chi-squared, at a
family-wise alpha of 0.05 split over the columns tested (Bonferroni), and a column only counts
as drifted when the change is also large enough to matter: normalized Wasserstein >= 0.02 or
Jensen-Shannon >= 0.02. Below 30 current values a column gets no verdict ("too few").
Any column can instead be judged by ``psi`` (default threshold 0.2), ``wasserstein`` (0.1)
or ``js`` (0.1). The dataset is drifted when the share of drifted columns reaches
``drift_share`` (0.5).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial.distance import jensenshannon

from modelyard.core.errors import ValidationError
from modelyard.data._reference import is_numeric, reference

NUMERIC_TESTS = ("ks", "psi", "wasserstein", "js")
CATEGORICAL_TESTS = ("chi2", "psi", "js")
THRESHOLDS = {"psi": 0.2, "wasserstein": 0.1, "js": 0.1}
_EPS = 1e-4


@dataclass(frozen=True)
class DriftOptions:
    alpha: float = 0.05
    correction: str = "bonferroni"  # or "none"
    numeric_test: str = "ks"
    categorical_test: str = "chi2"
    thresholds: dict[str, float] = field(default_factory=lambda: dict(THRESHOLDS))
    min_effect_numeric: float = 0.02  # normalized Wasserstein floor for a p-value verdict
    min_effect_categorical: float = 0.02  # Jensen-Shannon floor for a p-value verdict
    min_count: int = 30
    drift_share: float = 0.5
    per_column: dict[str, str] = field(default_factory=dict)  # column -> test

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise ValidationError(f"alpha must be between 0 and 1, got {self.alpha}")
        if self.correction not in ("bonferroni", "none"):
            raise ValidationError(f"correction must be 'bonferroni' or 'none', got {self.correction!r}")
        if self.numeric_test not in NUMERIC_TESTS:
            raise ValidationError(f"numeric_test {self.numeric_test!r} is not one of {list(NUMERIC_TESTS)}")
        if self.categorical_test not in CATEGORICAL_TESTS:
            raise ValidationError(f"categorical_test {self.categorical_test!r} is not one of {list(CATEGORICAL_TESTS)}")
        for column, test in self.per_column.items():
            if test not in set(NUMERIC_TESTS) | set(CATEGORICAL_TESTS):
                raise ValidationError(f"per_column[{column!r}]: test {test!r} is unknown")


@dataclass
class ColumnDrift:
    column: str
    kind: str
    test: str
    statistic: float | None
    p_value: float | None
    threshold: float
    drifted: bool | None  # None: too few values to say
    n_reference: int
    n_current: int
    ks: float | None = None
    psi: float | None = None
    js: float | None = None
    wasserstein: float | None = None
    chi2: float | None = None
    note: str = ""
    reference_share: list[float] = field(default_factory=list)
    current_share: list[float] = field(default_factory=list)
    bins: list[Any] = field(default_factory=list)

    def to_dict(self, with_bins: bool = False) -> dict[str, Any]:
        data = asdict(self)
        if not with_bins:
            for key in ("reference_share", "current_share", "bins"):
                data.pop(key)
        return data


@dataclass
class DriftReport:
    columns: list[ColumnDrift]
    drift_share: float
    drifted: bool
    threshold_share: float
    n_current: int

    @property
    def drifted_columns(self) -> list[str]:
        return [c.column for c in self.columns if c.drifted]

    def column(self, name: str) -> ColumnDrift:
        for c in self.columns:
            if c.column == name:
                return c
        raise KeyError(name)

    def to_dict(self, with_bins: bool = False) -> dict[str, Any]:
        return {
            "drift_share": self.drift_share,
            "drifted": self.drifted,
            "threshold_share": self.threshold_share,
            "n_current": self.n_current,
            "drifted_columns": self.drifted_columns,
            "columns": [c.to_dict(with_bins) for c in self.columns],
        }


def _psi(p: np.ndarray, q: np.ndarray) -> float:
    p = np.clip(p, _EPS, None)
    q = np.clip(q, _EPS, None)
    return float(np.sum((q - p) * np.log(q / p)))


def _ks_pvalue(d: float, n: int, m: int) -> float:
    en = n * m / (n + m)
    if en <= 0:
        return 1.0
    if min(n, m) <= 10_000:
        return float(stats.kstwo.sf(d, max(round(en), 1)))
    return float(stats.kstwobign.sf(d * np.sqrt(en)))


def _numeric(name: str, ref: dict[str, Any], values: np.ndarray, test: str, alpha: float, opts: DriftOptions) -> ColumnDrift:
    finite = values[np.isfinite(values)]
    edges = np.asarray(ref.get("edges") or [], dtype=np.float64)
    if len(edges) < 2 or finite.size == 0:
        return numeric_from_counts(name, ref, np.zeros(max(len(edges) - 1, 1)), int(finite.size), 0.0, 0.0, test, alpha, opts)
    cur_counts = np.bincount(np.searchsorted(edges[1:-1], finite, side="left"), minlength=len(edges) - 1).astype(np.float64)
    # mass beyond the reference's range adds its distance to Wasserstein
    below = np.clip(edges[0] - finite[finite < edges[0]], 0, None).sum()
    above = np.clip(finite[finite > edges[-1]] - edges[-1], 0, None).sum()
    return numeric_from_counts(name, ref, cur_counts, int(finite.size), float(below + above), float(np.std(finite)), test, alpha, opts)


def numeric_from_counts(
    name: str,
    ref: dict[str, Any],
    cur_counts: np.ndarray,
    n_cur: int,
    beyond: float,
    cur_std: float,
    test: str,
    alpha: float,
    opts: DriftOptions,
    ks_slack: float = 0.0,
) -> ColumnDrift:
    """The drift of a numeric column from the current values' counts on the reference's bins
    (``beyond``: the summed distance of current values outside the reference's range). With
    counts estimated by a sketch, ``ks_slack`` is its rank error: the KS p-value is then the one
    of the statistic's lower bound, so the sketch never makes a drift the rows would not."""
    n_ref = int(ref.get("count", 0))
    edges = np.asarray(ref.get("edges") or [], dtype=np.float64)
    out = ColumnDrift(name, "numeric", test, None, None, alpha if test == "ks" else opts.thresholds.get(test, THRESHOLDS.get(test, 0.1)), None, n_ref, n_cur)
    if n_cur < opts.min_count or n_ref < opts.min_count or len(edges) < 2:
        out.note = f"too few values (reference {n_ref}, current {n_cur}; need {opts.min_count})"
        return out
    ref_counts = np.asarray(ref["counts"], dtype=np.float64)
    p, q = ref_counts / ref_counts.sum(), cur_counts / cur_counts.sum()
    cdf_gap = np.abs(np.cumsum(p) - np.cumsum(q))
    out.ks = float(cdf_gap.max())
    # PSI and Jensen-Shannon on ten groups of about equal reference mass: on the fine bins
    # they would mostly measure the noise of small samples
    group = np.minimum((np.cumsum(p) - p / 2) * 10, 9.999).astype(int)
    p10, q10 = np.bincount(group, p, minlength=10), np.bincount(group, q, minlength=10)
    out.psi = _psi(p10, q10)
    out.js = float(jensenshannon(p10, q10, base=2))
    # Wasserstein on the binned CDFs: the gap times the width of each bin (the outer bins are
    # bounded by the reference's extremes), in units of the reference's standard deviation
    widths = np.diff(edges)
    std = float(ref.get("std") or 0.0) or cur_std or 1.0
    out.wasserstein = float(np.sum(cdf_gap[:-1] * widths[: len(cdf_gap) - 1]) / std) if len(widths) else 0.0
    out.wasserstein += float(beyond / n_cur / std)
    out.reference_share, out.current_share = p.tolist(), q.tolist()
    out.bins = edges.tolist()
    if test == "ks":
        out.statistic = out.ks
        out.p_value = _ks_pvalue(max(out.ks - ks_slack, 0.0), n_ref, n_cur)
        out.drifted = bool(out.p_value < alpha and out.wasserstein >= opts.min_effect_numeric)
    else:
        out.statistic = {"psi": out.psi, "wasserstein": out.wasserstein, "js": out.js}[test]
        out.drifted = bool(out.statistic >= out.threshold)
    return out


def _categorical(name: str, ref: dict[str, Any], values: pd.Series, test: str, alpha: float, opts: DriftOptions) -> ColumnDrift:
    return categorical_from_counts(name, ref, values.dropna().astype(str).value_counts(), test, alpha, opts)


def categorical_from_counts(name: str, ref: dict[str, Any], counted: pd.Series, test: str, alpha: float, opts: DriftOptions) -> ColumnDrift:
    """The drift of a categorical column from the current count of each category."""
    categories = list(ref.get("categories", {}))
    n_ref, n_cur = int(ref.get("count", 0)), int(counted.sum())
    out = ColumnDrift(name, "categorical", test, None, None, alpha if test == "chi2" else opts.thresholds.get(test, THRESHOLDS.get(test, 0.1)), None, n_ref, n_cur)
    if n_cur < opts.min_count or n_ref < opts.min_count:
        out.note = f"too few values (reference {n_ref}, current {n_cur}; need {opts.min_count})"
        return out
    cur = np.asarray([counted.get(c, 0) for c in categories] + [int(counted[~counted.index.isin(categories)].sum())], dtype=np.float64)
    ref_counts = np.asarray([ref["categories"][c] for c in categories] + [ref.get("other", 0)], dtype=np.float64)
    unseen = sorted(set(counted.index) - set(categories))[:10]
    if unseen:
        out.note = f"unseen categories: {', '.join(map(repr, unseen))}"
    p, q = ref_counts / ref_counts.sum(), cur / cur.sum()
    out.psi = _psi(p, q)
    out.js = float(jensenshannon(p, q, base=2))
    keep = (ref_counts + cur) > 0
    table = np.vstack([ref_counts[keep], cur[keep]])
    if table.shape[1] >= 2:
        chi2, p_value, _, _ = stats.chi2_contingency(table, correction=False)
        out.chi2 = float(chi2)
    else:
        p_value = 1.0
    out.reference_share, out.current_share = p.tolist(), q.tolist()
    out.bins = [*categories, "(other)"]
    if test == "chi2":
        out.statistic = out.chi2
        out.p_value = float(p_value)
        out.drifted = bool(out.p_value < alpha and out.js >= opts.min_effect_categorical)
    else:
        out.statistic = {"psi": out.psi, "js": out.js}[test]
        out.drifted = bool(out.statistic >= out.threshold)
    return out


def detect_drift(
    reference_data: pd.DataFrame | dict[str, dict[str, Any]],
    current: pd.DataFrame,
    *,
    columns: list[str] | None = None,
    options: DriftOptions | None = None,
) -> DriftReport:
    """Compare ``current`` with a reference (raw rows or a stored profile's ``reference``)."""
    opts = options or DriftOptions()
    ref = reference(reference_data) if isinstance(reference_data, pd.DataFrame) else reference_data
    if not isinstance(ref, dict):
        raise ValidationError("reference must be a DataFrame or a profile's 'reference' mapping")
    names = columns if columns is not None else [c for c in current.columns if str(c) in ref]
    missing_ref = [c for c in names if c not in ref]
    if missing_ref:
        raise ValidationError(
            f"the reference has no column{'s' if len(missing_ref) > 1 else ''} {', '.join(map(repr, missing_ref))}; "
            f"it has {sorted(ref)[:12]}"
        )
    missing_cur = [c for c in names if c not in current.columns]
    if missing_cur:
        raise ValidationError(
            f"the current data has no column{'s' if len(missing_cur) > 1 else ''} {', '.join(map(repr, missing_cur))}"
        )
    tested = [c for c in names if ref[c].get("kind") in ("numeric", "categorical")]
    alpha = opts.alpha / max(len(tested), 1) if opts.correction == "bonferroni" else opts.alpha
    results: list[ColumnDrift] = []
    for name in tested:
        spec = ref[name]
        series = current[name]
        if spec["kind"] == "numeric":
            test = opts.per_column.get(name, opts.numeric_test)
            if test not in NUMERIC_TESTS:
                raise ValidationError(f"column {name!r} is numeric; {test!r} is not one of {list(NUMERIC_TESTS)}")
            if not is_numeric(series) and series.notna().any():
                raise ValidationError(f"column {name!r} is numeric in the reference but {series.dtype} now (schema change)")
            values = pd.to_numeric(series, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
            results.append(_numeric(name, spec, values, test, alpha, opts))
        else:
            test = opts.per_column.get(name, opts.categorical_test)
            if test not in CATEGORICAL_TESTS:
                raise ValidationError(f"column {name!r} is categorical; {test!r} is not one of {list(CATEGORICAL_TESTS)}")
            results.append(_categorical(name, spec, series, test, alpha, opts))
    judged = [r for r in results if r.drifted is not None]
    share = sum(1 for r in judged if r.drifted) / len(judged) if judged else 0.0
    return DriftReport(results, share, bool(judged) and share >= opts.drift_share, opts.drift_share, len(current))
