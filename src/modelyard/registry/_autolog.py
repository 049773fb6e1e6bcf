"""``autolog()`` for scikit-learn: params, training metrics and the fitted model (a bundle
at ``runs:/<run-id>/model``, ready to register), on ``fit``.

Every classifier, regressor and clusterer is patched, and Pipeline and the searches.

Only the outermost ``fit`` logs (a Pipeline's steps or a search's candidates do not
start runs of their own). A ``fit`` outside a run gets a run of its own.
"""

from __future__ import annotations

import functools
import threading
import warnings
from collections.abc import Callable
from typing import Any

from modelyard.core.entities import Metric, Param
from modelyard.core.errors import MissingDependencyError
from modelyard.core.ids import now_ms
from modelyard.registry._fluent import get_client
from modelyard.tracking import _fluent

# Fits nested inside an autologged fit (a search's candidates, possibly on joblib's
# worker threads) must not log; a process-wide depth counts them.
_depth_lock = threading.Lock()
_depth = 0
_patched: dict[type, tuple[Callable[..., Any], bool]] = {}  # class -> (fit, defined on it)
_settings: dict[str, Any] = {"log_models": True}


def _training_metrics(estimator: Any, X: Any, y: Any, sample_weight: Any) -> dict[str, float]:
    from sklearn import metrics as skm
    from sklearn.base import is_classifier, is_regressor

    if y is None:
        return {}
    found: dict[str, float] = {}
    try:
        predicted = estimator.predict(X)
    except Exception:
        return {}
    if is_classifier(estimator):
        found["training_accuracy_score"] = skm.accuracy_score(
            y, predicted, sample_weight=sample_weight
        )
        average = "binary" if len(getattr(estimator, "classes_", [])) == 2 else "weighted"
        found["training_f1_score"] = skm.f1_score(
            y, predicted, average=average, sample_weight=sample_weight
        )
        if hasattr(estimator, "predict_proba"):
            try:
                proba = estimator.predict_proba(X)
                found["training_log_loss"] = skm.log_loss(
                    y, proba, labels=estimator.classes_, sample_weight=sample_weight
                )
                if proba.shape[1] == 2:
                    found["training_roc_auc"] = skm.roc_auc_score(
                        y, proba[:, 1], sample_weight=sample_weight
                    )
            except Exception:
                pass
    elif is_regressor(estimator):
        found["training_r2_score"] = skm.r2_score(y, predicted, sample_weight=sample_weight)
        found["training_mean_squared_error"] = skm.mean_squared_error(
            y, predicted, sample_weight=sample_weight
        )
        found["training_mean_absolute_error"] = skm.mean_absolute_error(
            y, predicted, sample_weight=sample_weight
        )
    return {k: float(val) for k, val in found.items()}


def _log_fit(estimator: Any, X: Any, y: Any, sample_weight: Any) -> None:
    client = _fluent.get_client()
    own_run = _fluent.active_run() is None
    run_id = (
        _fluent.start_run(run_name=f"{type(estimator).__name__}").info.run_id
        if own_run
        else _fluent.active_run().info.run_id  # type: ignore[union-attr]
    )
    try:
        params = [Param(k, str(val)[:6000]) for k, val in estimator.get_params(deep=False).items()]
        client.log_batch(
            run_id,
            params=params,
            tags=[],
        )
        client.set_tag(
            run_id, "estimator_class", f"{type(estimator).__module__}.{type(estimator).__name__}"
        )
        now = now_ms()
        metrics = [
            Metric(k, val, now, 0)
            for k, val in _training_metrics(estimator, X, y, sample_weight).items()
        ]
        if metrics:
            client.log_batch(run_id, metrics=metrics)
        if _settings["log_models"]:
            try:
                example = X[:5] if X is not None and hasattr(X, "__getitem__") else None
                get_client().log_model(run_id, estimator, "model", input_example=example)
            except Exception as error:
                warnings.warn(
                    f"autolog could not log the fitted model: {error}", UserWarning, stacklevel=3
                )
    finally:
        if own_run:
            _fluent.end_run()


def _wrap(cls: type, original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        global _depth
        with _depth_lock:
            outermost = _depth == 0
            _depth += 1
        try:
            result = original(self, *args, **kwargs)
        finally:
            with _depth_lock:
                _depth -= 1
        if not outermost:
            return result
        X = args[0] if args else kwargs.get("X")
        y = args[1] if len(args) > 1 else kwargs.get("y")
        _log_fit(self, X, y, kwargs.get("sample_weight"))
        return result

    fit.__modelyard_autolog__ = True  # type: ignore[attr-defined]
    return fit


def autolog(disable: bool = False, log_models: bool = True) -> None:
    """Log params, training metrics and the fitted estimator on every scikit-learn ``fit``."""
    try:
        from sklearn.utils import all_estimators
    except ImportError as error:
        raise MissingDependencyError("scikit-learn", "sklearn", "autolog()") from error
    _settings["log_models"] = log_models
    if disable:
        for cls, (original, own) in _patched.items():
            if own:
                cls.fit = original  # type: ignore[attr-defined]
            else:
                delattr(cls, "fit")
        _patched.clear()
        return
    from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
    from sklearn.pipeline import Pipeline

    models = [cls for _, cls in all_estimators(type_filter=["classifier", "regressor", "cluster"])]
    for cls in [*models, Pipeline, GridSearchCV, RandomizedSearchCV]:
        fit = getattr(cls, "fit", None)
        if fit is None or getattr(fit, "__modelyard_autolog__", False) or cls in _patched:
            continue
        _patched[cls] = (fit, "fit" in cls.__dict__)
        cls.fit = _wrap(cls, fit)
