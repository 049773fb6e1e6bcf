"""``autolog()`` for scikit-learn (``modelyard.sklearn.autolog``), as MLflow logs it: params,
training metrics and the fitted model (a bundle at ``runs:/<run-id>/model``, ready to
register), on ``fit``.

Every classifier, regressor and clusterer is patched, and Pipeline and the searches. Only
the outermost ``fit`` logs (a Pipeline's steps or a search's candidates start no runs of
their own while they train). A ``fit`` outside a run gets a run of its own.

A ``GridSearchCV``/``RandomizedSearchCV`` logs its own params, ``best_<param>`` params, the
``best_cv_score`` metric, ``cv_results.csv``, the search as ``model`` and its best estimator
as ``best_estimator``; then one child run per candidate (the ``max_tuning_runs`` best, by
rank), each with the candidate's full params and its mean/std/rank scores.
"""

from __future__ import annotations

import numbers
from typing import Any

from modelyard.core.errors import MissingDependencyError
from modelyard.core.ids import now_ms
from modelyard.registry import _autolog_base as base
from modelyard.registry._fluent import get_client

_patches = base.Patches()
_settings = base.Settings()


def _classifier_metrics(estimator: Any, X: Any, y: Any, weight: Any) -> dict[str, float]:
    from sklearn import metrics as skm

    predicted = estimator.predict(X)
    found: dict[str, float] = {}
    for name, score in (
        ("precision_score", skm.precision_score),
        ("recall_score", skm.recall_score),
        ("f1_score", skm.f1_score),
    ):
        found[name] = score(y, predicted, average="weighted", sample_weight=weight)
    found["accuracy_score"] = skm.accuracy_score(y, predicted, sample_weight=weight)
    if hasattr(estimator, "predict_proba"):
        try:
            proba = estimator.predict_proba(X)
            found["log_loss"] = skm.log_loss(
                y, proba, labels=getattr(estimator, "classes_", None), sample_weight=weight
            )
            scores = proba[:, 1] if proba.shape[1] == 2 else proba
            found["roc_auc"] = skm.roc_auc_score(
                y, scores, average="weighted", multi_class="ovo", sample_weight=weight
            )
        except Exception:
            pass
    return found


def _regressor_metrics(estimator: Any, X: Any, y: Any, weight: Any) -> dict[str, float]:
    import numpy as np
    from sklearn import metrics as skm

    predicted = estimator.predict(X)
    mse = skm.mean_squared_error(y, predicted, sample_weight=weight)
    return {
        "mean_squared_error": mse,
        "root_mean_squared_error": float(np.sqrt(mse)),
        "mean_absolute_error": skm.mean_absolute_error(y, predicted, sample_weight=weight),
        "r2_score": skm.r2_score(y, predicted, sample_weight=weight),
    }


def training_metrics(estimator: Any, X: Any, y: Any, sample_weight: Any) -> dict[str, float]:
    """MLflow's ``training_*`` metrics of a fitted estimator on its training data."""
    from sklearn.base import is_classifier, is_regressor

    if y is None:
        return {}
    found: dict[str, float] = {}
    try:
        if is_classifier(estimator):
            found = _classifier_metrics(estimator, X, y, sample_weight)
        elif is_regressor(estimator):
            found = _regressor_metrics(estimator, X, y, sample_weight)
        if hasattr(estimator, "score"):
            found["score"] = estimator.score(X, y)
    except Exception:
        return {}
    return {f"training_{k}": float(v) for k, v in found.items()}


def estimator_tags(estimator: Any) -> dict[str, str]:
    kind = type(estimator)
    return {"estimator_name": kind.__name__, "estimator_class": f"{kind.__module__}.{kind.__name__}"}


def _is_search(estimator: Any) -> bool:
    return hasattr(estimator, "cv_results_") and hasattr(estimator, "estimator")


def _log_fit(estimator: Any, X: Any, y: Any, sample_weight: Any) -> None:
    search = _is_search(estimator)
    with base.autolog_run(type(estimator).__name__, _settings) as run_id:
        base.log_params(run_id, estimator.get_params(deep=not search))
        base.set_tags(run_id, estimator_tags(estimator))
        base.log_metrics(run_id, training_metrics(estimator, X, y, sample_weight))
        example = base.head(X)
        base.log_fitted_model(run_id, estimator, example, _settings)
        if search:
            _log_search(run_id, estimator, example)


def _log_search(run_id: str, search: Any, example: Any) -> None:
    """What MLflow logs for a parameter search: the best candidate, the results, children."""
    import pandas as pd

    if hasattr(search, "best_estimator_"):
        base.log_fitted_model(run_id, search.best_estimator_, example, _settings, "best_estimator")
    if hasattr(search, "best_score_"):
        base.log_metrics(run_id, {"best_cv_score": float(search.best_score_)})
    if hasattr(search, "best_params_"):
        base.log_params(run_id, {f"best_{k}": v for k, v in search.best_params_.items()})
    results = pd.DataFrame.from_dict(search.cv_results_)
    get_client().log_bytes(run_id, results.to_csv(index=False).encode("utf-8"), "cv_results.csv")
    _child_runs(run_id, search, results)


def _child_runs(parent_id: str, search: Any, results: Any) -> None:
    """One finished child run per candidate: the seed estimator's params with the
    candidate's, and the candidate's aggregate scores (not the per-split ones)."""
    client = get_client()
    parent = client.get_run(parent_id)
    seed = search.estimator
    base_params = seed.get_params(deep=not _is_search(seed))
    chosen = results
    limit = _settings.max_tuning_runs
    if limit is not None:
        rank: str | None = "rank_test_score"
        if rank not in results.columns:
            rank = next((str(c) for c in results.columns if str(c).startswith("rank_test_")), None)
        chosen = results.nsmallest(limit, rank) if rank is not None else results.head(limit)
    tags = {**_settings.extra_tags, **estimator_tags(seed), "modelyard.autolog": "sklearn"}
    ended = now_ms()
    for _, row in chosen.iterrows():
        child = client.create_run(
            parent.info.experiment_id,
            start_time=parent.info.start_time,
            tags=tags,
            parent_run_id=parent_id,
        )
        child_id = child.info.run_id
        base.log_params(child_id, {**base_params, **row.get("params", {})})
        base.log_metrics(
            child_id,
            {
                str(k): float(v)
                for k, v in row.items()
                if not str(k).startswith(("param", "split"))
                and isinstance(v, numbers.Real)
                and not isinstance(v, bool)
            },
        )
        client.set_terminated(child_id, end_time=ended)


def _log_after(_: Any, args: tuple[Any, ...], kwargs: dict[str, Any], __: Any) -> None:
    estimator = args[0]  # fit(self, X, y, ...)
    X = args[1] if len(args) > 1 else kwargs.get("X")
    y = args[2] if len(args) > 2 else kwargs.get("y")
    _log_fit(estimator, X, y, kwargs.get("sample_weight"))


def autolog(
    log_input_examples: bool = False,
    log_model_signatures: bool = True,
    log_models: bool = True,
    log_datasets: bool = False,
    disable: bool = False,
    exclusive: bool = False,
    disable_for_unsupported_versions: bool = False,
    silent: bool = False,
    max_tuning_runs: int | None = 5,
    log_post_training_metrics: bool = False,
    serialization_format: str | None = None,
    registered_model_name: str | None = None,
    pos_label: Any = None,
    extra_tags: dict[str, Any] | None = None,
) -> None:
    """Log params, training metrics and the fitted estimator on every scikit-learn ``fit``
    (MLflow's ``mlflow.sklearn.autolog`` options). Input examples and signatures are always
    logged with the model; ``disable=True`` restores the plain ``fit``."""
    try:
        from sklearn.utils import all_estimators
    except ImportError as error:
        raise MissingDependencyError("scikit-learn", "sklearn", "autolog()") from error
    if disable:
        _patches.restore()
        return
    base.check_options("sklearn", log_datasets, log_post_training_metrics)
    base.configure(
        _settings,
        log_models=log_models,
        exclusive=exclusive,
        silent=silent,
        registered_model_name=registered_model_name,
        extra_tags=extra_tags,
    )
    _settings.max_tuning_runs = max_tuning_runs
    from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
    from sklearn.pipeline import Pipeline

    models = [cls for _, cls in all_estimators(type_filter=["classifier", "regressor", "cluster"])]
    for cls in [*models, Pipeline, GridSearchCV, RandomizedSearchCV]:
        _patches.patch(cls, "fit", lambda fit: base.wrap_training(fit, _settings, _log_after))


