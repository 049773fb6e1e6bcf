"""The registry's fluent functions, named as in MLflow: ``log_model``, ``register_model``,
``load_model``, ``evaluate``, ``search_registered_models``, ``search_model_versions``."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, Unpack

from modelyard.core.entities import PagedList
from modelyard.core.errors import NotSupportedError, ValidationError
from modelyard.core.models import ModelInfo, ModelVersion, RegisteredModel
from modelyard.flavors import Model
from modelyard.registry._client import Client
from modelyard.registry._evaluate import EvaluationResult
from modelyard.registry._evaluate import evaluate as _evaluate
from modelyard.registry._options import LogModelOptions, RegisterOptions, check_options
from modelyard.tracking import _fluent as tracking

tracking.use_client_class(Client)


def get_client() -> Client:
    """The fluent API's client, with the registry."""
    current = tracking.get_client()
    assert isinstance(current, Client)
    return current


def log_model(
    model: Any, artifact_path: str | None = None, **options: Unpack[LogModelOptions]
) -> ModelInfo:
    """Save ``model`` as a bundle in the active run (started when none is), at
    ``artifact_path`` (or ``name=``, MLflow 3's spelling; default ``model``); register it when
    ``registered_model_name`` is given. The keywords of ``Client.log_model``; any other is a
    TypeError. ``onnx=True`` also keeps a numerically checked ONNX graph (load with
    engine="onnx"). Returns a ModelInfo (``model_uri``, and ``model_version`` when registered)."""
    check_options("log_model", options, LogModelOptions)  # before a run is started for it
    return get_client().log_model(tracking._run_id(), model, artifact_path, **options)


def register_model(model_uri: Any, name: str, **options: Unpack[RegisterOptions]) -> ModelVersion:
    """Register ``runs:/<id>/model``, a bundle or MLflow folder, or a live model as a new
    version of ``name``; the keywords of ``Client.register_model``."""
    return get_client().register_model(name, model_uri, **options)


def search_registered_models(
    max_results: int | None = None,
    filter_string: str | None = None,
    order_by: list[str] | None = None,
) -> list[RegisteredModel]:
    """Every registered model matching ``filter_string`` (``name LIKE 'cred%' and tags.team =
    'risk'``), or the first ``max_results``; the search language is the runs' one."""
    return _all_pages(
        lambda size, token: get_client().search_registered_models(
            filter_string, size, order_by, token
        ),
        max_results,
    )


def search_model_versions(
    max_results: int | None = None,
    filter_string: str | None = None,
    order_by: list[str] | None = None,
) -> list[ModelVersion]:
    """Every model version matching ``filter_string`` (``name = 'credit' and version_number > 3
    and tags.stage = 'prod'``), or the first ``max_results``."""
    return _all_pages(
        lambda size, token: get_client().search_model_versions(filter_string, size, order_by, token),
        max_results,
    )


_PAGE = 1000


def _all_pages(fetch: Callable[[int, str | None], PagedList], max_results: int | None) -> list[Any]:
    found: list[Any] = []
    token: str | None = None
    while max_results is None or len(found) < max_results:
        size = _PAGE if max_results is None else min(_PAGE, max_results - len(found))
        page = fetch(size, token)
        found.extend(page)
        token = page.token
        if token is None:
            break
    return found


def load_model(
    model_uri: str | os.PathLike[str], *, trusted: bool = False, engine: str = "native"
) -> Model:
    """Load ``models:/name/3``, ``models:/name@champion``, ``runs:/...`` or a trusted folder;
    ``engine="onnx"`` scores with the ONNX graph saved with ``onnx=True``."""
    return get_client().load_model(model_uri, trusted=trusted, engine=engine)


# MLflow's default evaluator's metric names, for results of an MLflow-shaped call (targets=)
_MLFLOW_METRICS = {
    "accuracy": "accuracy_score",
    "f1": "f1_score",
    "count": "example_count",
    "mae": "mean_absolute_error",
    "rmse": "root_mean_squared_error",
    "r2": "r2_score",
}
_NOT_OFFERED = {
    "predictions": "evaluate a model, not a column of static predictions",
    "extra_metrics": "compute extra metrics from result.metrics or the model's predictions and "
    "log them with log_metric",
    "custom_artifacts": "log extra artifacts with log_artifact",
    "evaluator_config": "slices= and plots_dir= are modelyard's evaluation options",
    "model_config": "configure a PythonModel through its constructor",
    "inference_params": "predict takes no parameters in modelyard",
}


def evaluate(
    model: Model | str,
    data: Any,
    target: str | None = None,
    *,
    targets: str | None = None,
    model_type: Any = None,
    slices: Mapping[str, Any] | None = None,
    plots_dir: str | os.PathLike[str] | None = None,
    log: bool = True,
    feature_names: list[str] | None = None,
    evaluators: str | list[str] | None = None,
    **mlflow_options: Any,
) -> EvaluationResult:
    """Evaluate a model (or a model URI) on labelled data: metrics, per-slice metrics and
    plots (ROC, PR, confusion matrix, calibration or residuals, written to ``plots_dir``,
    default ``./evaluation``). With an active run (and ``log``), metrics go to the run and
    plots to its ``evaluation/`` artifacts.

    MLflow's call shape works too: ``evaluate(model_uri, data, targets="label",
    model_type="classifier")``; its result also carries MLflow's metric names
    (``accuracy_score``, ``f1_score``, ``example_count`` ...)."""
    for key, value in mlflow_options.items():
        if key not in _NOT_OFFERED:
            raise TypeError(f"evaluate() got an unexpected keyword argument {key!r}")
        if value is not None:
            raise NotSupportedError(f"evaluate({key}=...) is not supported: {_NOT_OFFERED[key]}")
    if target is not None and targets is not None and target != targets:
        raise ValidationError(f"evaluate got target={target!r} and targets={targets!r}; give one")
    label = target if target is not None else targets
    if label is None:
        raise ValidationError("evaluate needs the label column: targets='label' (or target=)")
    if evaluators not in (None, "default", ["default"]):
        raise NotSupportedError(
            f"evaluate(evaluators={evaluators!r}) is not supported: modelyard has one evaluator, "
            "'default'"
        )
    if model_type not in (None, "classifier", "regressor"):
        raise NotSupportedError(
            f"evaluate(model_type={str(model_type)[:40]!r}) is not supported: modelyard "
            "evaluates 'classifier' and 'regressor' models"
        )
    if feature_names is not None:
        keep = [*feature_names, label, *(c for c in (slices or {}).values() if isinstance(c, str))]
        data = data[list(dict.fromkeys(keep))]
    loaded = load_model(model) if isinstance(model, str) else model
    result = _evaluate(
        loaded,
        data,
        label,
        slices=slices,
        model_type=model_type,
        plots_dir=plots_dir or "evaluation",
    )
    if targets is not None:
        aliases = {_MLFLOW_METRICS[k]: v for k, v in result.metrics.items() if k in _MLFLOW_METRICS}
        if "root_mean_squared_error" in aliases:
            aliases["mean_squared_error"] = aliases["root_mean_squared_error"] ** 2
        result.metrics.update(aliases)
    run = tracking.active_run()
    if log and run is not None:
        tracking.log_metrics({k: v for k, v in result.metrics.items() if k != "count"})
        client = get_client()
        for path in result.plots.values():
            client.log_artifact(run.info.run_id, path, "evaluation")
    return result
