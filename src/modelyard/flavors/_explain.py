"""Per-prediction feature contributions.

LightGBM and XGBoost give exact tree contributions natively; scikit-learn tree ensembles
use SHAP's tree explainer; anything else (pipelines, linear models, custom models) uses
SHAP's model-agnostic permutation explainer against the registered input example as
background. SHAP comes with the ``[explain]`` extra.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from modelyard.core.errors import MissingDependencyError, ValidationError

BASE = "base_value"


def _frame(values: np.ndarray, columns: list[str], index: Any) -> pd.DataFrame:
    out = pd.DataFrame(values[:, :-1], columns=columns, index=index)
    out[BASE] = values[:, -1]
    return out


def _shap() -> Any:
    try:
        with warnings.catch_warnings():  # shap's import trips matplotlib deprecation notices
            warnings.simplefilter("ignore")
            import shap
    except ImportError as error:
        raise MissingDependencyError("shap", "explain", "Explaining this model") from error
    return shap


def _positive(values: np.ndarray) -> np.ndarray:
    """SHAP's per-class output reduced to the positive class of a binary classifier."""
    return values[..., 1] if values.ndim == 3 else values


def explain(
    flavor: str,
    raw: Any,
    frame: pd.DataFrame,
    model_input: Any,
    background: pd.DataFrame | None,
    predict: Any,
) -> pd.DataFrame:
    """Contributions of each input column to each row's output, plus ``base_value``.

    For classifiers the output explained is the positive class's score (log-odds for
    gradient-boosted trees, probability otherwise).
    """
    columns = [str(c) for c in frame.columns]
    if flavor == "lightgbm":
        values = np.asarray(raw.predict(model_input, pred_contrib=True))
        if values.shape[1] != len(columns) + 1:
            raise ValidationError(
                "multiclass contributions are not supported yet; explain a binary or regression model"
            )
        return _frame(values, columns, frame.index)
    if flavor == "xgboost":
        import xgboost

        booster = raw if isinstance(raw, xgboost.Booster) else raw.get_booster()
        values = np.asarray(booster.predict(xgboost.DMatrix(model_input), pred_contribs=True))
        if values.ndim != 2:
            raise ValidationError(
                "multiclass contributions are not supported yet; explain a binary or regression model"
            )
        return _frame(values, columns, frame.index)
    if flavor == "python" and hasattr(raw, "explain"):
        return pd.DataFrame(raw.explain(frame), index=frame.index)
    shap = _shap()
    if flavor == "sklearn" and type(raw).__name__ in _TREE_MODELS:
        explainer = shap.TreeExplainer(raw)
        result = explainer(model_input)
        values = _positive(np.asarray(result.values))
        base = np.asarray(result.base_values)
        if base.ndim == 2:
            base = base[:, 1] if base.shape[1] == 2 else base[:, 0]
        return _frame(
            np.column_stack([values, np.broadcast_to(base, (len(frame),))]), columns, frame.index
        )
    if background is None or len(background) == 0:
        raise ValidationError(
            "this model was registered without an input example; model-agnostic explanations need one as background"
        )

    def score(x: np.ndarray) -> np.ndarray:
        batch = pd.DataFrame(x, columns=columns).astype(frame.dtypes.to_dict())
        return np.asarray(predict(batch), dtype=float)

    explainer = shap.explainers.Permutation(
        score, shap.maskers.Independent(background.to_numpy(), max_samples=100)
    )
    result = explainer(frame.to_numpy(), silent=True)
    values = np.asarray(result.values)
    base = np.asarray(result.base_values).reshape(-1)
    return _frame(np.column_stack([values, base]), columns, frame.index)


_TREE_MODELS = {
    "DecisionTreeClassifier",
    "DecisionTreeRegressor",
    "RandomForestClassifier",
    "RandomForestRegressor",
    "ExtraTreesClassifier",
    "ExtraTreesRegressor",
    "GradientBoostingClassifier",
    "GradientBoostingRegressor",
}
