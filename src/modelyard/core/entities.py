"""The tracking domain's value objects: experiments, runs, metrics, params, tags, inputs.

Names and field order follow MLflow's where the concept is the same, so that moving
over is a rename (``Metric(key, value, timestamp, step)``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class RunStatus(StrEnum):
    """Where a run is in its life."""

    RUNNING = "RUNNING"
    SCHEDULED = "SCHEDULED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"

    @property
    def is_terminated(self) -> bool:
        return self in (RunStatus.FINISHED, RunStatus.FAILED, RunStatus.KILLED)


class LifecycleStage(StrEnum):
    """Whether an experiment or run is visible (active) or in the trash (deleted)."""

    ACTIVE = "active"
    DELETED = "deleted"


class ViewType(StrEnum):
    """Which lifecycle stages a search returns."""

    ACTIVE_ONLY = "active_only"
    DELETED_ONLY = "deleted_only"
    ALL = "all"


@dataclass(frozen=True, slots=True)
class Metric:
    """One point of a metric series. ``value`` NaN is kept as NaN."""

    key: str
    value: float
    timestamp: int
    step: int = 0


@dataclass(frozen=True, slots=True)
class Param:
    key: str
    value: str


@dataclass(frozen=True, slots=True)
class RunTag:
    key: str
    value: str


@dataclass(frozen=True, slots=True)
class Experiment:
    experiment_id: str
    name: str
    lifecycle_stage: LifecycleStage
    creation_time: int
    last_update_time: int
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RunInfo:
    run_id: str
    experiment_id: str
    run_name: str
    status: RunStatus
    start_time: int
    end_time: int | None
    lifecycle_stage: LifecycleStage
    parent_run_id: str | None
    user: str

    @property
    def run_uuid(self) -> str:
        """MLflow's older name for ``run_id``."""
        return self.run_id

    @property
    def artifact_uri(self) -> str:
        """Where the run's artifacts are, as a URI ``download_artifacts`` and ``load_model``
        take: ``runs:/<run-id>`` (append ``/model`` for a logged model). Artifacts are stored
        by content hash, so there is no per-run folder to point at."""
        return f"runs:/{self.run_id}"

    @property
    def duration_ms(self) -> int | None:
        return None if self.end_time is None else self.end_time - self.start_time


@dataclass(frozen=True, slots=True)
class DatasetInput:
    """A dataset version a run consumed, with the role it played (``training``, ...)."""

    name: str
    digest: str
    context: str
    source: str
    num_rows: int | None
    schema: dict[str, str]


@dataclass(frozen=True, slots=True)
class RunData:
    """The latest value of each metric, and every param and tag."""

    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Run:
    info: RunInfo
    data: RunData
    inputs: list[DatasetInput] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FileInfo:
    """An artifact of a run: a file (with size and sha256) or a folder."""

    path: str
    is_dir: bool
    file_size: int | None = None
    digest: str | None = None


class PagedList(list[Any]):
    """A page of results; ``token`` fetches the next page, None on the last one."""

    def __init__(self, items: list[Any], token: str | None) -> None:
        super().__init__(items)
        self.token = token


def metric_value_for_storage(value: float) -> float | None:
    """NaN is stored as NULL (SQLite cannot store NaN) and read back as NaN."""
    return None if math.isnan(value) else value


def metric_value_from_storage(value: float | None) -> float:
    return math.nan if value is None else value


@dataclass(frozen=True, slots=True)
class DatasetVersion:
    """A dataset's version: its content hash, schema, size, source and statistical profile."""

    name: str
    digest: str
    source_type: str
    source: str
    num_rows: int | None
    schema: dict[str, str]
    profile: dict[str, Any] = field(default_factory=dict)
