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
    NotSupportedError,
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
    ModelInfo,
    ModelVersion,
    RegisteredModel,
    RiskCategory,
    VersionState,
)

__version__ = "0.1.0"

_TRACKING = (
    "get_parent_run",
    "get_registry_uri",
    "log_image",
    "log_table",
    "set_experiment_tags",
    "set_registry_uri",
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
    "search_model_versions",
    "search_registered_models",
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
# MLflow's module layout: ``import modelyard; modelyard.sklearn.autolog()`` as in MLflow
_MLFLOW_MODULES = (
    "client",
    "entities",
    "exceptions",
    "lightgbm",
    "models",
    "onnx",
    "pyfunc",
    "sklearn",
    "xgboost",
)
# MLflow names modelyard does not offer, with what to use instead (an AttributeError that says so)
_NOT_OFFERED = {
    "enable_system_metrics_logging": "system metrics are not sampled; log what you need with "
    "log_metric (the run records host, Python and packages in its context)",
    "disable_system_metrics_logging": "system metrics are not sampled",
    "trace": "MLflow tracing (GenAI spans) is not part of modelyard",
    "start_span": "MLflow tracing (GenAI spans) is not part of modelyard",
    "get_trace": "MLflow tracing (GenAI spans) is not part of modelyard",
    "search_traces": "MLflow tracing (GenAI spans) is not part of modelyard",
    "genai": "MLflow's GenAI evaluation is not part of modelyard; evaluate classifiers and "
    "regressors with modelyard.evaluate",
    "register_prompt": "prompts are not registry objects in modelyard",
    "load_prompt": "prompts are not registry objects in modelyard",
    "set_active_model": "modelyard has no logged-model entities: a model is runs:/<id>/<path> "
    "or models:/<name>/<version>",
    "run": "MLflow Projects are not supported; run steps as a modelyard pipeline "
    "(modelyard.pipelines)",
    "projects": "MLflow Projects are not supported; use modelyard.pipelines",
    "deployments": "deploy with `modelyard serve` / `modelyard build` (Dockerfile and Kubernetes "
    "manifests)",
}
_ALIASES = {"MlflowClient": ("modelyard.registry", "Client"), "MlflowException": ("modelyard.core.errors", "ModelyardError")}

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
    "MlflowClient",
    "MlflowException",
    "Model",
    "ModelContext",
    "ModelInfo",
    "ModelVersion",
    "ModelyardError",
    "ModelyardWarning",
    "NoSignatureWarning",
    "NotFoundError",
    "NotSupportedError",
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
    "client",
    "compare_runs",
    "create_experiment",
    "data",
    "delete_experiment",
    "delete_run",
    "delete_tag",
    "download_artifacts",
    "end_run",
    "entities",
    "evaluate",
    "exceptions",
    "features",
    "get_artifact_uri",
    "get_client",
    "get_experiment",
    "get_experiment_by_name",
    "get_parent_run",
    "get_registry_uri",
    "get_run",
    "get_tracking_uri",
    "infer_signature",
    "last_active_run",
    "lightgbm",
    "load_model",
    "log_artifact",
    "log_artifacts",
    "log_config",
    "log_dict",
    "log_figure",
    "log_image",
    "log_input",
    "log_metric",
    "log_metrics",
    "log_model",
    "log_param",
    "log_params",
    "log_table",
    "log_text",
    "models",
    "onnx",
    "plot_metric_history",
    "pyfunc",
    "register_model",
    "save_model",
    "search_experiments",
    "search_model_versions",
    "search_registered_models",
    "search_runs",
    "set_experiment",
    "set_experiment_tag",
    "set_experiment_tags",
    "set_registry_uri",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "sklearn",
    "start_run",
    "xgboost",
]

if TYPE_CHECKING:
    # the MLflow-layout modules are left out: they sit above every layer (pyproject.toml)
    from modelyard import data, features
    from modelyard.core.errors import ModelyardError as MlflowException
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
    from modelyard.registry import Client as MlflowClient
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
        get_parent_run,
        get_registry_uri,
        get_run,
        get_tracking_uri,
        last_active_run,
        log_artifact,
        log_artifacts,
        log_config,
        log_dict,
        log_figure,
        log_image,
        log_input,
        log_metric,
        log_metrics,
        log_param,
        log_params,
        log_table,
        log_text,
        plot_metric_history,
        search_experiments,
        search_runs,
        set_experiment,
        set_experiment_tag,
        set_experiment_tags,
        set_registry_uri,
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
    elif name in _SUBMODULES or name in _MLFLOW_MODULES:
        value = importlib.import_module(f"modelyard.{name}")
    elif name in _ALIASES:
        module, attribute = _ALIASES[name]
        value = getattr(importlib.import_module(module), attribute)
    elif name in _NOT_OFFERED:
        raise AttributeError(
            f"modelyard has no {name!r} (an MLflow name): {_NOT_OFFERED[name]}", name=name
        )
    else:
        raise AttributeError(f"module 'modelyard' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
