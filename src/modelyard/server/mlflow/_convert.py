"""modelyard's entities as MLflow's JSON (the field names of MLflow's protos).

Ids are ours: an MLflow experiment id is our experiment id, an MLflow run id our run id. A
run's artifacts live at ``mlflow-artifacts:/<experiment>/<run>/artifacts``, which the
``/api/2.0/mlflow-artifacts`` routes map to the run's stored files."""

from __future__ import annotations

import math
from typing import Any

from modelyard.core.entities import Experiment, Metric, Run
from modelyard.core.models import ModelVersion, RegisteredModel, VersionState

HIDDEN_TAG_PREFIX = "modelyard.mlflow."  # façade bookkeeping, not shown to MLflow clients


def kv(mapping: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in mapping.items()]


def run_artifact_uri(experiment_id: str, run_id: str) -> str:
    return f"mlflow-artifacts:/{experiment_id}/{run_id}/artifacts"


def experiment(e: Experiment) -> dict[str, Any]:
    return {
        "experiment_id": e.experiment_id,
        "name": e.name,
        "artifact_location": f"mlflow-artifacts:/{e.experiment_id}",
        "lifecycle_stage": e.lifecycle_stage.value,
        "last_update_time": e.last_update_time,
        "creation_time": e.creation_time,
        "tags": [
            {"key": k, "value": v} for k, v in e.tags.items() if not k.startswith(HIDDEN_TAG_PREFIX)
        ],
    }


def number(value: float) -> float | str:
    """A metric value as protobuf's JSON writes it: NaN and infinities as strings."""
    if math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def metric(m: Metric) -> dict[str, Any]:
    return {"key": m.key, "value": number(m.value), "timestamp": m.timestamp, "step": m.step}


def run_info(r: Run) -> dict[str, Any]:
    info = r.info
    out: dict[str, Any] = {
        "run_id": info.run_id,
        "run_uuid": info.run_id,
        "run_name": info.run_name,
        "experiment_id": info.experiment_id,
        "user_id": info.user,
        "status": info.status.value,
        "start_time": info.start_time,
        "artifact_uri": run_artifact_uri(info.experiment_id, info.run_id),
        "lifecycle_stage": info.lifecycle_stage.value,
    }
    if info.end_time is not None:
        out["end_time"] = info.end_time
    return out


def run(r: Run) -> dict[str, Any]:
    tags = dict(r.data.tags)
    tags.setdefault("mlflow.runName", r.info.run_name)
    if r.info.parent_run_id:
        tags.setdefault("mlflow.parentRunId", r.info.parent_run_id)
    return {
        "info": run_info(r),
        "data": {
            "metrics": [
                {"key": k, "value": number(v), "timestamp": r.info.start_time, "step": 0}
                for k, v in r.data.metrics.items()
            ],
            "params": kv(r.data.params),
            "tags": kv(tags),
        },
        "inputs": {
            "dataset_inputs": [
                {
                    "tags": [{"key": "mlflow.data.context", "value": d.context}],
                    "dataset": {
                        "name": d.name,
                        "digest": d.digest,
                        "source_type": "modelyard",
                        "source": d.source,
                    },
                }
                for d in r.inputs
            ]
        },
    }


_STAGE = {
    VersionState.ACTIVE: "None",
    VersionState.ARCHIVED: "Archived",
    VersionState.DELETED: "Archived",
}


def model_version(v: ModelVersion) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": v.name,
        "version": str(v.version),
        "creation_timestamp": v.creation_time,
        "last_updated_timestamp": v.last_updated_time,
        "user_id": v.owner,
        "current_stage": _STAGE[v.state],
        "description": v.description,
        "source": v.source,
        "status": "READY",
        "tags": kv(v.tags),
        "aliases": list(v.aliases),
    }
    if v.run_id:
        out["run_id"] = v.run_id
    model_id = v.lineage.get("mlflow_model_id") if isinstance(v.lineage, dict) else None
    if model_id:
        out["model_id"] = model_id
    return out


def registered_model(m: RegisteredModel, latest: ModelVersion | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": m.name,
        "creation_timestamp": m.creation_time,
        "last_updated_timestamp": m.last_updated_time,
        "user_id": m.owner,
        "description": m.description,
        "tags": kv(m.tags),
        "aliases": [{"alias": a, "version": str(n)} for a, n in sorted(m.aliases.items())],
    }
    if latest is not None:
        out["latest_versions"] = [model_version(latest)]
    return out
