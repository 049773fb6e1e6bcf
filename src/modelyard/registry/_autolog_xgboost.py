"""``autolog()`` for XGBoost (``modelyard.xgboost.autolog``), as MLflow logs it.

``xgboost.train`` and the scikit-learn API (``XGBClassifier``, ``XGBRegressor``,
``XGBRanker``, the random forests) log: the booster's params (and ``num_boost_round``),
every evaluation metric of every iteration as ``<dataset>-<metric>`` (step = iteration),
with early stopping ``stopped_iteration``/``best_iteration`` and the metrics at the best
iteration (at the step after the last), the feature importance
(``feature_importance_<type>.json``, ``weight`` unless ``importance_types`` says otherwise)
and the model (the Booster, or the estimator for the scikit-learn API) at ``model``. Only
the outermost training call logs.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from modelyard.core.errors import MissingDependencyError
from modelyard.registry import _autolog_base as base
from modelyard.registry._fluent import get_client

_patches = base.Patches()
_settings = base.Settings()
_importance_types: list[str] = ["weight"]

# train's arguments that are data or code, not settings (MLflow leaves the same out)
_UNLOGGED = {
    "params",
    "dtrain",
    "evals",
    "obj",
    "feval",
    "evals_result",
    "xgb_model",
    "callbacks",
    "learning_rates",
    "custom_metric",
}


def _log_booster(
    run_id: str, booster: Any, results: Mapping[str, Mapping[str, Any]], early_stopping: bool
) -> None:
    """Series, early-stopping figures and feature importance of a trained Booster."""
    iterations = base.log_series(run_id, results)
    best = getattr(booster, "best_iteration", None) if early_stopping else None
    if best is not None and iterations:  # XGBoost counts iterations from 0
        base.log_metrics(
            run_id, {"stopped_iteration": iterations - 1, "best_iteration": int(best)}
        )
        base.log_metrics(run_id, base.at_iteration(results, int(best)), step=iterations)
    client = get_client()
    for kind in _importance_types:
        scores = booster.get_score(importance_type=kind)
        client.log_bytes(
            run_id, json.dumps(scores).encode("utf-8"), f"feature_importance_{kind}.json"
        )


def _wrap_train(original: Callable[..., Any]) -> Callable[..., Any]:
    """``xgboost.train`` recording its evaluation results, logging after it returns."""
    signature = inspect.signature(original)

    def prepare(
        args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[tuple[Any, ...], dict[str, Any], Any]:
        bound = signature.bind(*args, **kwargs)
        results = bound.arguments.get("evals_result")
        if results is None:
            results = bound.arguments["evals_result"] = {}
        return bound.args, bound.kwargs, results

    def log(booster: Any, args: tuple[Any, ...], kwargs: dict[str, Any], results: Any) -> None:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        fn_args = {k: v for k, v in bound.arguments.items() if k not in _UNLOGGED}
        with base.autolog_run("xgboost.train", _settings) as run_id:
            base.log_params(run_id, {**(bound.arguments.get("params") or {}), **fn_args})
            base.set_tags(run_id, {"modelyard.autolog": "xgboost"})
            stopping = bound.arguments.get("early_stopping_rounds") is not None
            _log_booster(run_id, booster, results, stopping)
            base.log_fitted_model(run_id, booster, None, _settings)

    return base.wrap_training(original, _settings, log, prepare)


def _log_fit(_: Any, args: tuple[Any, ...], kwargs: dict[str, Any], __: Any) -> None:
    """After a scikit-learn API ``fit``: everything is on the fitted estimator."""
    model = args[0]  # fit(self, X, y, ...)
    X = args[1] if len(args) > 1 else kwargs.get("X")
    params = {k: v for k, v in model.get_xgb_params().items() if v is not None}
    with base.autolog_run(type(model).__name__, _settings) as run_id:
        base.log_params(run_id, {**params, "num_boost_round": model.n_estimators})
        base.set_tags(run_id, {"modelyard.autolog": "xgboost"})
        results = model.evals_result() if hasattr(model, "evals_result_") else {}
        _log_booster(
            run_id, model.get_booster(), results, getattr(model, "early_stopping_rounds", None) is not None
        )
        base.log_fitted_model(run_id, model, base.head(X), _settings)


def autolog(
    importance_types: Sequence[str] | None = None,
    log_input_examples: bool = False,
    log_model_signatures: bool = True,
    log_models: bool = True,
    log_datasets: bool = False,
    disable: bool = False,
    exclusive: bool = False,
    disable_for_unsupported_versions: bool = False,
    silent: bool = False,
    registered_model_name: str | None = None,
    model_format: str | None = None,
    extra_tags: dict[str, Any] | None = None,
) -> None:
    """Log params, per-iteration metrics, feature importance and the model on every
    ``xgboost.train`` and XGBoost scikit-learn ``fit`` (MLflow's ``mlflow.xgboost.autolog``
    options; examples and signatures are always logged with the model).
    ``disable=True`` restores the plain functions."""
    try:
        import xgboost
    except ImportError as error:
        raise MissingDependencyError("xgboost", "xgboost", "xgboost autolog()") from error
    if disable:
        _patches.restore()
        return
    base.check_options("xgboost", log_datasets, False)
    base.configure(
        _settings,
        log_models=log_models,
        exclusive=exclusive,
        silent=silent,
        registered_model_name=registered_model_name,
        extra_tags=extra_tags,
    )
    _importance_types[:] = list(importance_types or ["weight"])
    _patches.patch(xgboost, "train", _wrap_train)
    for cls in (
        xgboost.XGBModel,
        xgboost.XGBClassifier,
        xgboost.XGBRegressor,
        xgboost.XGBRanker,
        xgboost.XGBRFClassifier,
        xgboost.XGBRFRegressor,
    ):
        _patches.patch(cls, "fit", lambda fit: base.wrap_training(fit, _settings, _log_fit))
