"""Performance, data quality and technical measures of one window (NumPy, no scikit-learn)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from modelyard.data._reference import is_numeric


def auc(labels: np.ndarray, scores: np.ndarray) -> float | None:
    """ROC AUC by the rank-sum (Mann-Whitney) formula, ties averaged; None with one class."""
    positive = labels == 1
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = pd.Series(scores).rank(method="average").to_numpy()
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def performance(frame: pd.DataFrame) -> dict[str, float]:
    """Measures of labelled rows: classification when labels are 0/1, else regression."""
    labelled = frame[frame["label"].notna()]
    out: dict[str, float] = {"labelled": float(len(labelled))}
    if labelled.empty:
        return out
    y = labelled["label"].to_numpy(dtype="float64")
    prediction = labelled["prediction"].to_numpy(dtype="float64") if "prediction" in labelled else np.full(len(y), np.nan)
    binary = bool(np.isin(y, (0.0, 1.0)).all())
    if binary:
        valid = ~np.isnan(prediction)
        if valid.any():
            out["accuracy"] = float((prediction[valid] == y[valid]).mean())
        if "score" in labelled and labelled["score"].notna().any():
            score = labelled["score"].to_numpy(dtype="float64")
            ok = ~np.isnan(score)
            value = auc(y[ok], score[ok])
            if value is not None:
                out["auc"] = value
            p = np.clip(score[ok], 1e-15, 1 - 1e-15)
            out["log_loss"] = float(-np.mean(y[ok] * np.log(p) + (1 - y[ok]) * np.log(1 - p)))
            out["positive_rate"] = float(y.mean())
    else:
        ok = ~np.isnan(prediction)
        if ok.any():
            err = prediction[ok] - y[ok]
            out["rmse"] = float(np.sqrt(np.mean(err**2)))
            out["mae"] = float(np.mean(np.abs(err)))
    return out


def quality(current: pd.DataFrame, reference: dict[str, dict[str, Any]], columns: list[str]) -> tuple[dict[str, dict[str, float]], list[str]]:
    """Per column: null rate, share out of the reference's range, share of unseen
    categories; and schema findings (missing columns, changed kinds)."""
    per_column: dict[str, dict[str, float]] = {}
    findings: list[str] = []
    for name in columns:
        ref = reference.get(name)
        if name not in current.columns:
            findings.append(f"column {name!r} is missing from the logs")
            continue
        series = current[name]
        stats: dict[str, float] = {"null_rate": float(series.isna().mean()) if len(series) else 0.0}
        if ref is not None:
            ref_total = ref.get("count", 0) + ref.get("nulls", 0)
            stats["reference_null_rate"] = float(ref.get("nulls", 0) / ref_total) if ref_total else 0.0
            if ref.get("kind") == "numeric":
                if not is_numeric(series) and series.notna().any():
                    findings.append(f"column {name!r} was numeric in the reference and is {series.dtype} now")
                elif ref.get("count"):
                    values = pd.to_numeric(series, errors="coerce").dropna().to_numpy(dtype="float64")
                    if values.size:
                        stats["out_of_range"] = float(((values < ref["min"]) | (values > ref["max"])).mean())
            elif ref.get("kind") == "categorical":
                present = series.dropna().astype(str)
                if present.size:
                    stats["unseen_share"] = float((~present.isin(list(ref.get("categories", {})))).mean()) if not ref.get("other") else 0.0
        if stats["null_rate"] == 1.0 and len(series):
            findings.append(f"column {name!r} is entirely null in this window")
        per_column[name] = stats
    return per_column, findings


def technical(frame: pd.DataFrame, seconds: float) -> dict[str, float]:
    """Latency percentiles, error rates and throughput of the requests in ``frame``."""
    if frame.empty:
        return {"requests": 0.0}
    requests = frame.drop_duplicates("request_id")
    latency = requests.loc[requests["status"] == 200, "latency_ms"].to_numpy(dtype="float64")
    out = {
        "requests": float(len(requests)),
        "error_rate": float((requests["status"] >= 500).mean()),
        "client_error_rate": float(((requests["status"] >= 400) & (requests["status"] < 500)).mean()),
        "throughput_rps": float(len(requests) / seconds) if seconds > 0 else 0.0,
    }
    if latency.size:
        p50, p95, p99 = np.percentile(latency, [50, 95, 99])
        out.update(p50_latency_ms=float(p50), p95_latency_ms=float(p95), p99_latency_ms=float(p99))
    return out
