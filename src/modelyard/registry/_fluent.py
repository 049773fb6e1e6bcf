"""The registry's fluent functions, named as in MLflow: ``log_model``, ``register_model``,
``load_model``, ``evaluate``, ``search_registered_models``, ``search_model_versions``."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, Unpack

from modelyard.core.entities import PagedList
from modelyard.core.models import ModelVersion, RegisteredModel
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
