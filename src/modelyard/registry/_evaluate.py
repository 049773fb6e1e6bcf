"""``evaluate``: the standard metrics and plots of a model on labelled data, per slice too."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from modelyard.core.errors import MissingDependencyError, ValidationError
from modelyard.core.extras import require
from modelyard.core.signature import InputKind
from modelyard.flavors import Model


@dataclass
class EvaluationResult:
    model_type: str
    metrics: dict[str, float]
    slices: dict[str, dict[str, float]] = field(default_factory=dict)
    plots: dict[str, Path] = field(default_factory=dict)


def _classification(
    y: np.ndarray, proba: np.ndarray | None, predicted: np.ndarray
) -> dict[str, float]:
    from sklearn import metrics as skm

    out = {
        "accuracy": skm.accuracy_score(y, predicted),
        "f1": skm.f1_score(
            y, predicted, average="binary" if len(np.unique(y)) <= 2 else "weighted"
        ),
    }
    if proba is not None and len(np.unique(y)) > 1:
        if proba.ndim == 2 and proba.shape[1] == 2:
            positive = proba[:, 1]
            out["roc_auc"] = skm.roc_auc_score(y, positive)
            out["average_precision"] = skm.average_precision_score(y, positive)
            out["brier_score"] = skm.brier_score_loss(y, positive)
            out["log_loss"] = skm.log_loss(
                y, proba, labels=[0, 1] if set(np.unique(y)) <= {0, 1} else None
            )
            out["calibration_error"] = _calibration_error(y, positive)
        elif proba.ndim == 2:
            out["roc_auc"] = skm.roc_auc_score(y, proba, multi_class="ovr")
            out["log_loss"] = skm.log_loss(y, proba)
    return {k: float(v) for k, v in out.items()}


def _calibration_error(y: np.ndarray, positive: np.ndarray, bins: int = 10) -> float:
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(positive, edges) - 1, 0, bins - 1)
    error = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            error += mask.mean() * abs(positive[mask].mean() - y[mask].mean())
    return float(error)


def _regression(y: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    from sklearn import metrics as skm

    return {
        "rmse": float(np.sqrt(skm.mean_squared_error(y, predicted))),
        "mae": float(skm.mean_absolute_error(y, predicted)),
        "r2": float(skm.r2_score(y, predicted)),
    }


def _plots(
    kind: str, y: np.ndarray, proba: np.ndarray | None, predicted: np.ndarray, folder: Path
) -> dict[str, Path]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise MissingDependencyError("matplotlib", "plots", "Evaluation plots") from error
    from sklearn import metrics as skm
    from sklearn.calibration import calibration_curve

    folder.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}

    def save(name: str, fig: Any) -> None:
        path = folder / f"{name}.png"
        fig.tight_layout()
        fig.savefig(path, dpi=90)
        plt.close(fig)
        written[name] = path

    if kind == "classifier":
        fig, ax = plt.subplots(figsize=(4.5, 4))
        skm.ConfusionMatrixDisplay.from_predictions(y, predicted, ax=ax, colorbar=False)
        ax.set_title("Confusion matrix")
        save("confusion_matrix", fig)
        if proba is not None and proba.ndim == 2 and proba.shape[1] == 2:
            positive = proba[:, 1]
            fig, ax = plt.subplots(figsize=(4.5, 4))
            skm.RocCurveDisplay.from_predictions(y, positive, ax=ax)
            ax.plot([0, 1], [0, 1], linestyle="--", color="grey")
            ax.set_title("ROC")
            save("roc_curve", fig)
            fig, ax = plt.subplots(figsize=(4.5, 4))
            skm.PrecisionRecallDisplay.from_predictions(y, positive, ax=ax)
            ax.set_title("Precision-recall")
            save("precision_recall_curve", fig)
            fig, ax = plt.subplots(figsize=(4.5, 4))
            true, pred = calibration_curve(y, positive, n_bins=10, strategy="quantile")
            ax.plot(pred, true, marker="o", label="model")
            ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect")
            ax.set_xlabel("predicted probability")
            ax.set_ylabel("observed frequency")
            ax.set_title("Calibration")
            # a fixed place: "best" is searched for, slowly, with a warning when it takes over a second
            ax.legend(loc="upper left")
            save("calibration_curve", fig)
    else:
        fig, ax = plt.subplots(figsize=(4.5, 4))
        ax.scatter(predicted, y - predicted, s=6, alpha=0.5)
        ax.axhline(0, color="grey", linestyle="--")
        ax.set_xlabel("predicted")
        ax.set_ylabel("residual")
        ax.set_title("Residuals")
        save("residuals", fig)
    return written


def _model_input(
    model: Model, data: pd.DataFrame, target: str, slices: Mapping[str, Any] | None
) -> pd.DataFrame:
    signature = model.signature
    if signature is not None and signature.input_kind is InputKind.DATAFRAME:
        wanted = set(signature.input_names)
        return data[[c for c in data.columns if c in wanted]]  # a missing one: SchemaError
    by_column = {spec for spec in (slices or {}).values() if isinstance(spec, str)}
    return data.drop(columns=[target, *(c for c in by_column if c in data.columns and c != target)])


def evaluate(
    model: Model,
    data: pd.DataFrame,
    target: str,
    *,
    model_type: Literal["classifier", "regressor"] | None = None,
    slices: Mapping[str, Any] | None = None,
    plots_dir: str | os.PathLike[str] | None = None,
) -> EvaluationResult:
    """Score ``model`` on ``data`` (which holds the ``target`` column).

    ``slices`` maps a slice name to a boolean mask, or to a column whose every value
    becomes a slice (``{"segment": "segment"}``). The model sees only its inputs: with a
    signature, the columns it names (a slice column, an id, the target stay out); without
    one, every column but the target and the slice columns. Plots are written to ``plots_dir``.
    """
    require("sklearn", "Evaluation (its metrics are scikit-learn's)")
    if target not in data.columns:
        raise ValidationError(
            f"target column {target!r} is not in the data; its columns are {list(data.columns)[:20]}"
        )
    y = data[target].to_numpy()
    features = _model_input(model, data, target, slices)
    predicted = np.asarray(model.predict(features)).ravel()
    try:
        proba: np.ndarray | None = model.predict_proba(features)
    except AttributeError:
        proba = None
    kind = model_type or (
        "classifier"
        if proba is not None or pd.api.types.is_bool_dtype(data[target])
        else "regressor"
    )

    def score(mask: np.ndarray | None) -> dict[str, float]:
        ys = y if mask is None else y[mask]
        ps = predicted if mask is None else predicted[mask]
        prs = proba if (proba is None or mask is None) else proba[mask]
        out = (
            _classification(ys, prs, ps)
            if kind == "classifier"
            else _regression(ys.astype(float), ps.astype(float))
        )
        out["count"] = float(len(ys))
        return out

    result = EvaluationResult(model_type=kind, metrics=score(None))
    for name, spec in (slices or {}).items():
        if isinstance(spec, str):
            if spec not in data.columns:
                raise ValidationError(
                    f"slice {name!r} names column {spec!r}, which is not in the data"
                )
            for value in sorted(data[spec].dropna().unique(), key=str):
                mask = (data[spec] == value).to_numpy()
                if mask.sum() >= 2:
                    result.slices[f"{name}={value}"] = score(mask)
        else:
            mask = np.asarray(spec, dtype=bool)
            if len(mask) != len(data):
                raise ValidationError(f"slice {name!r} has {len(mask)} flags for {len(data)} rows")
            if mask.sum() >= 2:
                result.slices[name] = score(mask)
    if plots_dir is not None:
        result.plots = _plots(kind, y, proba, predicted, Path(plots_dir))
    return result
