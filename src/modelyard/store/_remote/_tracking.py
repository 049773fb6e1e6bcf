"""``HttpStore``: the metadata store's methods, answered by a team server's native REST API.

``Client("http://host:5000")`` (or ``set_tracking_uri`` / ``$MODELYARD_TRACKING_URI``) gets this
store instead of a ``SqlStore``: same methods, same answers, same exception classes, so the
clients above it do not know the difference. The feature registry (definitions, watermarks),
the monitoring results and alerts, the monitor's profiles, pipelines (runs, leases, steps, the
step cache, schedules) and webhooks are served too (``HttpFeatureRegistryStore``,
``HttpMonitorStore``, ``HttpProfileStore``, ``HttpPipelineStore``); online feature lookups stay
on the feature server, and users are managed with the admin routes (``create_user``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import quote

from modelyard.core.entities import (
    DatasetVersion,
    Experiment,
    LifecycleStage,
    Metric,
    PagedList,
    Param,
    Run,
    RunStatus,
    RunTag,
    ViewType,
)
from modelyard.core.errors import ConfigurationError, NotFoundError, ValidationError
from modelyard.core.wire import (
    ArtifactFiles,
    CreateExperiment,
    CreateRun,
    CreateUser,
    DatasetOut,
    DatasetVersions,
    Empty,
    ExperimentId,
    ExperimentList,
    ExperimentOut,
    LogBatch,
    LogInput,
    LogMetric,
    MaybeExperiment,
    MetricHistory,
    MetricKeys,
    RunCounts,
    RunIdOut,
    RunOut,
    RunPage,
    SearchRuns,
    TagValue,
    Token,
    UpdateExperiment,
    UpdateRun,
)
from modelyard.store._remote._blobs import HttpBlobStore
from modelyard.store._remote._features import HttpFeatureRegistryStore
from modelyard.store._remote._monitoring import HttpMonitorStore
from modelyard.store._remote._pipelines import HttpPipelineStore
from modelyard.store._remote._profiles import HttpProfileStore
from modelyard.store._remote._registry import HttpRegistryStore
from modelyard.store._remote._transport import Transport, wire

if TYPE_CHECKING:
    from modelyard.store._user_store import UserStore


def q(part: str | int) -> str:
    """One path segment, percent-encoded (a name may hold any character)."""
    return quote(str(part), safe="")


class HttpStore:
    """Experiments, runs and their data on a team server (``http://`` or ``https://``)."""

    dialect = "http"

    def __init__(self, url: str, token: str | None = None) -> None:
        self.url = url.rstrip("/")
        self.where = self.url
        self.transport = Transport(self.url, token)
        self.registry = HttpRegistryStore(self.transport)
        self.blobs = HttpBlobStore(self.transport)

    def close(self) -> None:
        self.transport.close()

    def _not_remote(self, what: str) -> NoReturn:
        raise ConfigurationError(
            f"the {what} store is not served by the team server {self.url}; point "
            "MODELYARD_TRACKING_URI at the team's database (postgresql://...) for it"
        )

    @property
    def features(self) -> HttpFeatureRegistryStore:
        return HttpFeatureRegistryStore(self.transport)

    @property
    def monitoring(self) -> HttpMonitorStore:
        return HttpMonitorStore(self.transport)

    @property
    def profiles(self) -> HttpProfileStore:
        return HttpProfileStore(self.transport)

    @property
    def pipelines(self) -> HttpPipelineStore:
        return HttpPipelineStore(self.transport)

    @property
    def users(self) -> UserStore:
        self._not_remote("user")

    def create_user(self, name: str, role: str) -> Token:
        """A new user of the server (the token sent must be an admin's); the answer holds
        their token, shown this once."""
        body = wire(CreateUser, name=name, role=role)
        return self.transport.call("POST", "/users", Token, body=body)

    # -- experiments -------------------------------------------------------------------

    def create_experiment(self, name: str, tags_: dict[str, str] | None = None) -> str:
        body = wire(CreateExperiment, name=name, tags=tags_ or {})
        return self.transport.call("POST", "/experiments", ExperimentId, body=body).experiment_id

    def get_experiment(self, experiment_id: str) -> Experiment:
        return self.transport.call(
            "GET", f"/experiments/{q(experiment_id)}", ExperimentOut
        ).experiment

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        return self.transport.call(
            "GET", "/experiments/by-name", MaybeExperiment, params={"name": name}
        ).experiment

    def search_experiments(
        self, view_type: ViewType = ViewType.ACTIVE_ONLY, name_like: str | None = None
    ) -> list[Experiment]:
        params = {"view_type": view_type.value, "name_like": name_like}
        return self.transport.call("GET", "/experiments", ExperimentList, params=params).experiments

    def _update_experiment(self, experiment_id: str, body: UpdateExperiment) -> None:
        self.transport.call("PATCH", f"/experiments/{q(experiment_id)}", Empty, body=body)

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        self._update_experiment(experiment_id, wire(UpdateExperiment, name=new_name))

    def delete_experiment(self, experiment_id: str) -> None:
        self._update_experiment(
            experiment_id, wire(UpdateExperiment, lifecycle_stage=LifecycleStage.DELETED)
        )

    def restore_experiment(self, experiment_id: str) -> None:
        self._update_experiment(
            experiment_id, wire(UpdateExperiment, lifecycle_stage=LifecycleStage.ACTIVE)
        )

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        self.transport.call(
            "PUT",
            f"/experiments/{q(experiment_id)}/tags/{q(key)}",
            Empty,
            body=wire(TagValue, value=value),
        )

    def count_runs(
        self, experiment_ids: Sequence[str], view_type: ViewType = ViewType.ACTIVE_ONLY
    ) -> dict[str, int]:
        params = {"experiment_id": ",".join(experiment_ids), "view_type": view_type.value}
        return self.transport.call(
            "GET", "/experiments/run-counts", RunCounts, params=params
        ).counts

    # -- runs --------------------------------------------------------------------------

    def create_run(
        self,
        *,
        run_id: str,
        experiment_id: str,
        run_name: str,
        start_time: int,
        user: str,
        parent_run_id: str | None,
        tags_: dict[str, str],
        context: dict[str, Any],
    ) -> Run:
        body = wire(
            CreateRun,
            run_id=run_id,
            run_name=run_name,
            start_time=start_time,
            user=user,
            parent_run_id=parent_run_id,
            tags=tags_,
            context=context,
        )
        return self.transport.call(
            "POST", f"/experiments/{q(experiment_id)}/runs", RunOut, body=body
        ).run

    def get_run(self, run_id: str) -> Run:
        return self.transport.call("GET", f"/runs/{q(run_id)}", RunOut).run

    def resolve_run_id(self, ref: str, shown: int = 5) -> str:
        return self.transport.call("GET", f"/run-ids/{q(ref.strip()[:64] or '-')}", RunIdOut).run_id

    def _update_run(self, run_id: str, body: UpdateRun) -> None:
        self.transport.call("PATCH", f"/runs/{q(run_id)}", Empty, body=body)

    def set_run_status(self, run_id: str, status: RunStatus, end_time: int | None) -> None:
        self._update_run(run_id, wire(UpdateRun, status=status, end_time=end_time))

    def rename_run(self, run_id: str, run_name: str) -> None:
        self._update_run(run_id, wire(UpdateRun, run_name=run_name))

    def set_run_lifecycle(self, run_id: str, stage: LifecycleStage) -> None:
        self._update_run(run_id, wire(UpdateRun, lifecycle_stage=stage))

    def delete_tag(self, run_id: str, key: str) -> None:
        self.transport.request("DELETE", f"/runs/{q(run_id)}/tags/{q(key)}")

    # -- data --------------------------------------------------------------------------

    def log_metric(self, run_id: str, metric: Metric) -> None:
        body = wire(
            LogMetric,
            key=metric.key,
            value=metric.value,
            timestamp=metric.timestamp,
            step=metric.step,
        )
        self.transport.request("POST", f"/runs/{q(run_id)}/metrics", body=body)

    def log_batch(
        self,
        run_id: str,
        metrics_: Sequence[Metric] = (),
        params_: Sequence[Param] = (),
        tags_: Sequence[RunTag] = (),
    ) -> None:
        body = LogBatch.model_construct(
            metrics=list(metrics_), params=list(params_), tags=list(tags_)
        )
        self.transport.request("POST", f"/runs/{q(run_id)}/batch", body=body)

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        return self.transport.call(
            "GET", f"/runs/{q(run_id)}/metrics", MetricHistory, params={"key": key}
        ).metrics

    def metric_keys(self, run_id: str) -> list[str]:
        return self.transport.call("GET", f"/runs/{q(run_id)}/metric-keys", MetricKeys).keys

    def record_artifacts(self, run_id: str, files: Sequence[tuple[str, str, int]]) -> None:
        body = wire(ArtifactFiles, files=[{"path": p, "digest": d, "size": s} for p, d, s in files])
        self.transport.request("POST", f"/runs/{q(run_id)}/artifacts", body=body)

    def artifact_rows(self, run_id: str, prefix: str = "") -> list[tuple[str, str, int]]:
        found = self.transport.call(
            "GET", f"/runs/{q(run_id)}/artifacts", ArtifactFiles, params={"prefix": prefix}
        )
        return [(f.path, f.digest, f.size) for f in found.files]

    def log_input(self, run_id: str, dataset: DatasetVersion, context: str) -> None:
        body = wire(LogInput, dataset=dataset, context=context)
        self.transport.request("POST", f"/runs/{q(run_id)}/inputs", body=body)

    def list_dataset_versions(self, name: str | None = None) -> list[tuple[DatasetVersion, int]]:
        found = self.transport.call("GET", "/datasets", DatasetVersions, params={"name": name})
        return [(e.dataset, e.created_time) for e in found.versions]

    def find_dataset_version(self, name: str, digest_prefix: str) -> DatasetVersion:
        matches = [
            d for d, _ in self.list_dataset_versions(name) if d.digest.startswith(digest_prefix)
        ]
        if not matches:
            raise NotFoundError(f"dataset {name!r} has no version starting {digest_prefix!r}")
        if len(matches) > 1 or len(digest_prefix) < 4:
            raise ValidationError(
                f"version {digest_prefix!r} of dataset {name!r} is ambiguous; give more of the digest"
            )
        return matches[0]

    def get_dataset_version(self, name: str, digest: str) -> DatasetVersion:
        return self.transport.call(
            "GET", f"/datasets/{q(name)}/versions/{q(digest)}", DatasetOut
        ).dataset

    # -- search ------------------------------------------------------------------------

    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList:
        body = wire(
            SearchRuns,
            experiment_ids=list(experiment_ids),
            filter=filter_string or "",
            view_type=view_type,
            max_results=max_results,
            order_by=order_by,
            page_token=page_token,
        )
        page = self.transport.call("POST", "/runs/search", RunPage, body=body)
        return PagedList(page.runs, page.next_page_token)
