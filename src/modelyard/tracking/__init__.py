"""Experiment tracking: the Client, the fluent API, configs, autolog and comparisons."""

from typing import Any

from modelyard.core.errors import NotSupportedError
from modelyard.tracking._client import Client
from modelyard.tracking._compare import runs_to_frame
from modelyard.tracking._config import flatten
from modelyard.tracking._fluent import (
    ActiveRun,
    active_run,
    compare_runs,
    create_experiment,
    delete_experiment,
    delete_run,
    delete_tag,
    download_artifacts,
    end_run,
    get_artifact_uri,
    get_client,
    get_experiment,
    get_experiment_by_name,
    get_run,
    get_tracking_uri,
    last_active_run,
    log_artifact,
    log_artifacts,
    log_config,
    log_dict,
    log_figure,
    log_input,
    log_metric,
    log_metrics,
    log_param,
    log_params,
    log_text,
    plot_metric_history,
    search_experiments,
    search_runs,
    set_experiment,
    set_experiment_tag,
    set_tag,
    set_tags,
    set_tracking_uri,
    start_run,
)
from modelyard.tracking._mlflow_fluent import (
    get_parent_run,
    get_registry_uri,
    log_image,
    log_table,
    set_experiment_tags,
    set_registry_uri,
)

__all__ = [
    "ActiveRun",
    "Client",
    "active_run",
    "compare_runs",
    "create_experiment",
    "delete_experiment",
    "delete_run",
    "delete_tag",
    "download_artifacts",
    "end_run",
    "flatten",
    "get_artifact_uri",
    "get_client",
    "get_experiment",
    "get_experiment_by_name",
    "get_parent_run",
    "get_registry_uri",
    "get_run",
    "get_tracking_uri",
    "last_active_run",
    "log_artifact",
    "log_artifacts",
    "log_config",
    "log_dict",
    "log_figure",
    "log_image",
    "log_input",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_table",
    "log_text",
    "plot_metric_history",
    "runs_to_frame",
    "search_experiments",
    "search_runs",
    "set_experiment",
    "set_experiment_tag",
    "set_experiment_tags",
    "set_registry_uri",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "start_run",
]


def __getattr__(name: str) -> Any:
    if name == "MlflowClient":  # ``from mlflow.tracking import MlflowClient``, renamed
        raise NotSupportedError(
            "modelyard.tracking has no MlflowClient (it is the tracking layer, below the "
            "registry): use `from modelyard import MlflowClient` or `from modelyard.client "
            "import MlflowClient`"
        )
    raise AttributeError(f"module 'modelyard.tracking' has no attribute {name!r}")
