"""``autolog()`` for LightGBM (``modelyard.lightgbm.autolog``), as MLflow logs it.

``lightgbm.train`` and the scikit-learn API (``LGBMClassifier``, ``LGBMRegressor``,
``LGBMRanker``) log: the booster's params (and ``num_boost_round``), every evaluation
metric of every iteration as ``<dataset>-<metric>`` (step = iteration), with early stopping
``stopped_iteration``/``best_iteration`` and the metrics at the best iteration (at step
``stopped_iteration``), the feature importance (``feature_importance_split.json``,
``feature_importance_gain.json``) and the model (the Booster, or the estimator for the
scikit-learn API) at ``model``. Only the outermost training call logs.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Mapping
from typing import Any

from modelyard.core.errors import MissingDependencyError
from modelyard.registry import _autolog_base as base
from modelyard.registry._fluent import get_client

_patches = base.Patches()
_settings = base.Settings()

# train's arguments that are data or code, not settings (MLflow leaves the same out)
_UNLOGGED = {
    "params",
    "train_set",
    "valid_sets",
    "valid_names",
    "fobj",
    "feval",
    "init_model",
    "learning_rates",
    "callbacks",
}


def _log_booster(
    run_id: str, booster: Any, results: Mapping[str, Mapping[str, Any]], best_iteration: int
) -> None:
    """Series, early-stopping figures and feature importance of a trained Booster."""
    iterations = base.log_series(run_id, results)
    if best_iteration > 0:  # early stopping; LightGBM counts iterations from 1
        base.log_metrics(
            run_id, {"stopped_iteration": iterations, "best_iteration": best_iteration}
        )
        base.log_metrics(run_id, base.at_iteration(results, best_iteration - 1), step=iterations)
    client = get_client()
    names = booster.feature_name()
    for kind in ("split", "gain"):
        values = booster.feature_importance(importance_type=kind).tolist()
        client.log_bytes(
            run_id,
            json.dumps(dict(zip(names, values, strict=True)), indent=2).encode("utf-8"),
            f"feature_importance_{kind}.json",
        )


def _wrap_train(original: Callable[..., Any]) -> Callable[..., Any]:
    """``lightgbm.train`` with an evaluation recorder added, logging after it returns."""
    import lightgbm

    signature = inspect.signature(original)

    def prepare(
        args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[tuple[Any, ...], dict[str, Any], Any]:
        bound = signature.bind(*args, **kwargs)
        results: dict[str, Any] = {}
        bound.arguments["callbacks"] = [
            *(bound.arguments.get("callbacks") or []),
            lightgbm.record_evaluation(results),
        ]
        # the example is taken before LightGBM may free the raw data
        example = base.head(getattr(bound.arguments.get("train_set"), "data", None))
        return bound.args, bound.kwargs, (results, example)

    def log(booster: Any, args: tuple[Any, ...], kwargs: dict[str, Any], context: Any) -> None:
        results, example = context
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        fn_args = {k: v for k, v in bound.arguments.items() if k not in _UNLOGGED}
        with base.autolog_run("lightgbm.train", _settings) as run_id:
            base.log_params(run_id, {**(bound.arguments.get("params") or {}), **fn_args})
            base.set_tags(run_id, {"modelyard.autolog": "lightgbm"})
            _log_booster(run_id, booster, results, booster.best_iteration)
            base.log_fitted_model(run_id, booster, example, _settings)

    return base.wrap_training(original, _settings, log, prepare)


def _log_fit(_: Any, args: tuple[Any, ...], kwargs: dict[str, Any], __: Any) -> None:
    """After a scikit-learn API ``fit``: everything is on the fitted estimator."""
    model = args[0]  # fit(self, X, y, ...)
    X = args[1] if len(args) > 1 else kwargs.get("X")
    booster = model.booster_
    with base.autolog_run(type(model).__name__, _settings) as run_id:
        base.log_params(run_id, {**booster.params, "num_boost_round": model.n_estimators})
        base.set_tags(run_id, {"modelyard.autolog": "lightgbm"})
        _log_booster(
            run_id, booster, getattr(model, "evals_result_", None) or {}, model.best_iteration_ or 0
        )
        base.log_fitted_model(run_id, model, base.head(X), _settings)


def autolog(
    log_input_examples: bool = False,
    log_model_signatures: bool = True,
    log_models: bool = True,
    log_datasets: bool = False,
    disable: bool = False,
    exclusive: bool = False,
    disable_for_unsupported_versions: bool = False,
    silent: bool = False,
    registered_model_name: str | None = None,
    extra_tags: dict[str, Any] | None = None,
) -> None:
    """Log params, per-iteration metrics, feature importance and the model on every
    ``lightgbm.train`` and LightGBM scikit-learn ``fit`` (MLflow's
    ``mlflow.lightgbm.autolog`` options; examples and signatures are always logged with the
    model). ``disable=True`` restores the plain functions."""
    try:
        import lightgbm
    except ImportError as error:
        raise MissingDependencyError("lightgbm", "lightgbm", "lightgbm autolog()") from error
    if disable:
        _patches.restore()
        return
    base.check_options("lightgbm", log_datasets, False)
    base.configure(
        _settings,
        log_models=log_models,
        exclusive=exclusive,
        silent=silent,
        registered_model_name=registered_model_name,
        extra_tags=extra_tags,
    )
    _patches.patch(lightgbm, "train", _wrap_train)
    for cls in (
        lightgbm.LGBMModel,
        lightgbm.LGBMClassifier,
        lightgbm.LGBMRegressor,
        lightgbm.LGBMRanker,
    ):
        _patches.patch(cls, "fit", lambda fit: base.wrap_training(fit, _settings, _log_fit))
