"""modelyard: the whole life of a machine-learning model in one loop.

The public API. Names follow MLflow's where the concept is the same, so that moving
over is a rename::

    import modelyard

    modelyard.set_experiment("credit")
    with modelyard.start_run():
        modelyard.log_params({"model": "gbm", "lr": 0.1})
        modelyard.log_metric("auc", 0.91, step=1)

Heavy parts (the store, pandas, pyarrow) load on first use: ``import modelyard`` is light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from modelyard.core.entities import (
    DatasetInput,
    DatasetVersion,
    Experiment,
    FileInfo,
    LifecycleStage,
    Metric,
    Param,
    Run,
    RunData,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
)
from modelyard.core.errors import (
    ArtifactError,
    ArtifactIntegrityError,
    ConfigurationError,
    ConflictError,
    DataQualityError,
    FilterSyntaxError,
    GateFailedError,
    IntegrityError,
    InvalidStateError,
    MissingDependencyError,
    ModelyardError,
    ModelyardWarning,
    NoSignatureWarning,
    NotFoundError,
    ParamConflictError,
    SchemaError,
    StoreError,
    StoreLockedError,
    StoreUnreadableError,
    UntrustedModelError,
    ValidationError,
)
from modelyard.core.models import (
    AuditEntry,
    ModelVersion,
    RegisteredModel,
    RiskCategory,
    VersionState,
)

__version__ = "0.1.0"

_TRACKING = (
    "create_experiment",
    "delete_experiment",
    "delete_run",
    "download_artifacts",
    "get_experiment",
    "get_experiment_by_name",
    "log_figure",
    "search_experiments",
    "set_experiment_tag",
    "ActiveRun",
    "active_run",
    "compare_runs",
    "delete_tag",
    "end_run",
    "get_artifact_uri",
    "get_run",
    "get_tracking_uri",
    "last_active_run",
    "log_artifact",
    "log_artifacts",
    "log_config",
    "log_dict",
    "log_input",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_text",
    "plot_metric_history",
    "search_runs",
    "set_experiment",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "start_run",
)
_REGISTRY = (
    "Client",
    "autolog",
    "evaluate",
    "get_client",
    "load_model",
    "log_model",
    "register_model",
    "search_model_versions",
    "search_registered_models",
)
_FLAVORS = ("Model", "ModelContext", "PythonModel", "infer_signature", "save_model")
_SUBMODULES = ("data", "features")

__all__ = [
    "ActiveRun",
    "ArtifactError",
    "ArtifactIntegrityError",
    "AuditEntry",
    "Client",
    "ConfigurationError",
    "ConflictError",
    "DataQualityError",
    "DatasetInput",
    "DatasetVersion",
    "Experiment",
    "FileInfo",
    "FilterSyntaxError",
    "GateFailedError",
    "IntegrityError",
    "InvalidStateError",
    "LifecycleStage",
    "Metric",
    "MissingDependencyError",
    "Model",
    "ModelContext",
    "ModelVersion",
    "ModelyardError",
    "ModelyardWarning",
    "NoSignatureWarning",
    "NotFoundError",
    "Param",
    "ParamConflictError",
    "PythonModel",
    "RegisteredModel",
    "RiskCategory",
    "Run",
    "RunData",
    "RunInfo",
    "RunStatus",
    "RunTag",
    "SchemaError",
    "StoreError",
    "StoreLockedError",
    "StoreUnreadableError",
    "UntrustedModelError",
    "ValidationError",
    "VersionState",
    "ViewType",
    "active_run",
    "autolog",
    "compare_runs",
    "create_experiment",
    "data",
    "delete_experiment",
    "delete_run",
    "delete_tag",
    "download_artifacts",
    "end_run",
    "evaluate",
    "features",
    "get_artifact_uri",
    "get_client",
    "get_experiment",
    "get_experiment_by_name",
    "get_run",
    "get_tracking_uri",
    "infer_signature",
    "last_active_run",
    "load_model",
    "log_artifact",
    "log_artifacts",
    "log_config",
    "log_dict",
    "log_figure",
    "log_input",
    "log_metric",
    "log_metrics",
    "log_model",
    "log_param",
    "log_params",
    "log_text",
    "plot_metric_history",
    "register_model",
    "save_model",
    "search_experiments",
    "search_model_versions",
    "search_registered_models",
    "search_runs",
    "set_experiment",
    "set_experiment_tag",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "start_run",
]

if TYPE_CHECKING:
    from modelyard import data, features
    from modelyard.flavors import Model, ModelContext, PythonModel, infer_signature, save_model
    from modelyard.registry import (
        Client,
        autolog,
        evaluate,
        get_client,
        load_model,
        log_model,
        register_model,
        search_model_versions,
        search_registered_models,
    )
    from modelyard.tracking import (
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


def __getattr__(name: str) -> Any:
    if name in _REGISTRY:
        value = getattr(importlib.import_module("modelyard.registry"), name)
    elif name in _FLAVORS:
        value = getattr(importlib.import_module("modelyard.flavors"), name)
    elif name in _TRACKING:
        value = getattr(importlib.import_module("modelyard.tracking"), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"modelyard.{name}")
    else:
        raise AttributeError(f"module 'modelyard' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
