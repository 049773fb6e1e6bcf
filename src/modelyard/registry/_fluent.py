"""The registry's fluent functions, named as in MLflow: ``log_model``, ``register_model``,
``load_model``, ``evaluate``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Unpack

from modelyard.core.models import ModelVersion
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
) -> ModelVersion | str:
    """Save ``model`` as a bundle in the active run (started when none is), at
    ``artifact_path`` (or ``name=``, MLflow 3's spelling; default ``model``); register it when
    ``registered_model_name`` is given. The keywords of ``Client.log_model``; any other is a
    TypeError. ``onnx=True`` also keeps a numerically checked ONNX graph (load with
    engine="onnx"). Returns the new ModelVersion, or the ``runs:/`` URI when not registering."""
    check_options("log_model", options, LogModelOptions)  # before a run is started for it
    return get_client().log_model(tracking._run_id(), model, artifact_path, **options)


def register_model(model_uri: Any, name: str, **options: Unpack[RegisterOptions]) -> ModelVersion:
    """Register ``runs:/<id>/model``, a bundle or MLflow folder, or a live model as a new
    version of ``name``; the keywords of ``Client.register_model``."""
    return get_client().register_model(name, model_uri, **options)


def load_model(
    model_uri: str | os.PathLike[str], *, trusted: bool = False, engine: str = "native"
) -> Model:
    """Load ``models:/name/3``, ``models:/name@champion``, ``runs:/...`` or a trusted folder;
    ``engine="onnx"`` scores with the ONNX graph saved with ``onnx=True``."""
    return get_client().load_model(model_uri, trusted=trusted, engine=engine)


def evaluate(
    model: Model | str,
    data: Any,
    target: str,
    *,
    slices: Mapping[str, Any] | None = None,
    model_type: Any = None,
    plots_dir: str | os.PathLike[str] | None = None,
    log: bool = True,
) -> EvaluationResult:
    """Evaluate a model (or a model URI) on labelled data: metrics, per-slice metrics and
    plots (ROC, PR, confusion matrix, calibration or residuals, written to ``plots_dir``,
    default ``./evaluation``). With an active run (and ``log``), metrics go to the run and
    plots to its ``evaluation/`` artifacts."""
    loaded = load_model(model) if isinstance(model, str) else model
    result = _evaluate(
        loaded,
        data,
        target,
        slices=slices,
        model_type=model_type,
        plots_dir=plots_dir or "evaluation",
    )
    run = tracking.active_run()
    if log and run is not None:
        tracking.log_metrics({k: v for k, v in result.metrics.items() if k != "count"})
        client = get_client()
        for path in result.plots.values():
            client.log_artifact(run.info.run_id, path, "evaluation")
    return result
