"""``mlflow.entities`` under modelyard: experiments, runs, metrics, params, tags, and the
registry's models and versions, in MLflow's names and field order."""

from __future__ import annotations

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
from modelyard.core.models import ModelVersion, RegisteredModel

__all__ = [
    "DatasetInput",
    "DatasetVersion",
    "Experiment",
    "FileInfo",
    "LifecycleStage",
    "Metric",
    "ModelVersion",
    "Param",
    "RegisteredModel",
    "Run",
    "RunData",
    "RunInfo",
    "RunStatus",
    "RunTag",
    "ViewType",
]
