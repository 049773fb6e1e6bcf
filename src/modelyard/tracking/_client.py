"""``modelyard.Client``: the explicit tracking API, named after MLflow's ``MlflowClient``."""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml

from modelyard.artifacts import ContentAddressedStore, files_under
from modelyard.core import settings
from modelyard.core import validation as v
from modelyard.core.entities import (
    DatasetVersion,
    Experiment,
    FileInfo,
    LifecycleStage,
    Metric,
    PagedList,
    Param,
    Run,
    RunStatus,
    RunTag,
    ViewType,
)
from modelyard.core.errors import ConflictError, NotFoundError, ValidationError
from modelyard.core.ids import new_run_id, now_ms
from modelyard.core.settings import StoreLocation, busy_timeout_s, resolve
from modelyard.store import SqlStore
from modelyard.store._remote import HttpBlobStore, HttpStore
from modelyard.tracking import _compare, _config, _names
from modelyard.tracking import _openlineage as ol
from modelyard.tracking._async import MetricQueue
from modelyard.tracking._context import current_user

Store = SqlStore | HttpStore
Blobs = ContentAddressedStore | HttpBlobStore

_stores: dict[tuple[str, str | None], Store] = {}
_stores_lock = threading.Lock()


def _store_for(url: str) -> Store:
    """One store per URL (and token) per process, shared by every Client on it: a database,
    or a team server over HTTP (one kept-alive connection pool)."""
    remote = settings.is_server_url(url)
    key = (url, settings.tracking_token() if remote else None)
    with _stores_lock:
        store = _stores.get(key)
        if store is None:
            store = _stores[key] = (
                HttpStore(url, key[1]) if remote else SqlStore(url, busy_timeout_s())
            )
        return store


def _view(view: ViewType | str | int) -> ViewType:
    if isinstance(view, ViewType):
        return view
    legacy = {1: ViewType.ACTIVE_ONLY, 2: ViewType.DELETED_ONLY, 3: ViewType.ALL}
    if isinstance(view, int) and view in legacy:
        return legacy[view]
    try:
        return ViewType(str(view).lower())
    except ValueError:
        raise ValidationError(
            f"run_view_type {view!r} is not one of {[m.value for m in ViewType]}"
        ) from None


def _status(status: RunStatus | str) -> RunStatus:
    try:
        return RunStatus(str(status).upper())
    except ValueError:
        raise ValidationError(
            f"status {status!r} is not one of {[s.value for s in RunStatus]}"
        ) from None


class Client:
    """Experiments, runs, metrics, params, tags, artifacts and inputs, by id.

    ``Client()`` uses the tracking URI in effect, as the fluent API does (like
    ``MlflowClient``): the one set with ``set_tracking_uri``, else ``$MODELYARD_TRACKING_URI``,
    else the project's home folder (``./.modelyard``); ``Client("postgresql://host/db")``
    a team's database.
    """

    def __init__(self, tracking_uri: str | None = None, artifact_uri: str | None = None) -> None:
        self._location: StoreLocation = resolve(tracking_uri, artifact_uri)
        self.tracking_uri = (
            tracking_uri or settings.configured_tracking_uri() or self._location.metadata_url
        )
        self._store = _store_for(self._location.metadata_url)
        self._blobs: Blobs | None = None
        self._queue: MetricQueue | None = (
            MetricQueue(lambda run_id, points: self._store.log_batch(run_id, points))
            if settings.async_logging()
            else None
        )

    @property
    def store(self) -> Store:
        return self._store

    @property
    def remote(self) -> bool:
        """Whether this client talks to a team server over HTTP."""
        return isinstance(self._store, HttpStore)

    @property
    def artifact_uri(self) -> str:
        return self._location.artifact_uri

    @property
    def blobs(self) -> Blobs:
        if self._blobs is None:
            self._blobs = (
                self._store.blobs
                if isinstance(self._store, HttpStore)
                else ContentAddressedStore(self._location.artifact_uri)
            )
        return self._blobs

    # -- experiments -----------------------------------------------------------------

    def create_experiment(self, name: str, tags: dict[str, Any] | None = None) -> str:
        v.check_name(name, "experiment name")
        clean = {
            v.check_key(k, "experiment tag key"): v.tag_value(k, val)
            for k, val in (tags or {}).items()
        }
        return self._store.create_experiment(name, clean)

    def get_experiment(self, experiment_id: str) -> Experiment:
        return self._store.get_experiment(experiment_id)

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        return self._store.get_experiment_by_name(name)

    def get_or_create_experiment(self, name: str) -> Experiment:
        """The experiment called ``name``, created when missing (safe when racing)."""
        found = self._store.get_experiment_by_name(name)
        if found is None:
            with contextlib.suppress(ConflictError):  # another process may create it first
                self.create_experiment(name)
            found = self._store.get_experiment_by_name(name)
            if found is None:
                raise NotFoundError(f"experiment {name!r} was created but cannot be read back")
        return found

    def search_experiments(
        self, view_type: ViewType | str = ViewType.ACTIVE_ONLY, name_like: str | None = None
    ) -> list[Experiment]:
        return self._store.search_experiments(_view(view_type), name_like)

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        self._store.rename_experiment(experiment_id, v.check_name(new_name, "experiment name"))

    def delete_experiment(self, experiment_id: str) -> None:
        self._store.delete_experiment(experiment_id)

    def restore_experiment(self, experiment_id: str) -> None:
        self._store.restore_experiment(experiment_id)

    def set_experiment_tag(self, experiment_id: str, key: str, value: Any) -> None:
        self._store.set_experiment_tag(
            experiment_id, v.check_key(key, "tag key"), v.tag_value(key, value)
        )

    # -- runs ------------------------------------------------------------------------

    def create_run(
        self,
        experiment_id: str,
        start_time: int | None = None,
        tags: dict[str, Any] | None = None,
        run_name: str | None = None,
        parent_run_id: str | None = None,
        context: dict[str, Any] | None = None,
    ) -> Run:
        clean = {v.check_key(k, "tag key"): v.tag_value(k, val) for k, val in (tags or {}).items()}
        # a run started inside a pipeline step is linked to it (see modelyard.pipelines)
        for env, key in (
            ("MODELYARD_PIPELINE_RUN", "modelyard.pipeline_run"),
            ("MODELYARD_PIPELINE_STEP", "modelyard.pipeline_step"),
            ("MODELYARD_PIPELINE_ATTEMPT", "modelyard.pipeline_attempt"),
        ):
            if os.environ.get(env) and key not in clean:
                clean[key] = os.environ[env]
        name = v.check_name(run_name, "run name") if run_name is not None else _names.run_name()
        run = self._store.create_run(
            run_id=new_run_id(),
            experiment_id=str(experiment_id),
            run_name=name,
            start_time=start_time if start_time is not None else now_ms(),
            user=current_user(),
            parent_run_id=parent_run_id,
            tags_=clean,
            context=context or {},
        )
        if ol.emitter() is not None:
            with contextlib.suppress(Exception):  # lineage never fails the run
                ol.training_run_started(run.info.run_id, self._job_name(run.info.experiment_id), ol.step_parent(clean))
        return run

    def _job_name(self, experiment_id: str) -> str:
        """A training run's OpenLineage job: its experiment's name."""
        return self._store.get_experiment(experiment_id).name

    def _lineage_ended(self, run_id: str, status: RunStatus) -> None:
        if ol.emitter() is None:
            return
        run = self._store.get_run(run_id)
        feature_service = run.data.tags.get("modelyard.feature_service")

        def inputs() -> list[ol.LineageDataset]:
            found = ol.dataset_inputs(run.inputs)
            if feature_service:
                found.append(ol.LineageDataset("modelyard.features", feature_service))
            return found

        def outputs() -> list[ol.LineageDataset]:
            versions = self._store.registry.search_versions(f"run_id = '{run_id}'")
            return ol.model_outputs(f"models:/{mv.name}/{mv.version}" for mv in versions)

        ol.training_run_ended(
            run_id, status.value, lambda: self._job_name(run.info.experiment_id), inputs, outputs, ol.step_parent(run.data.tags)
        )

    def flush(self) -> None:
        """Wait until every point queued by asynchronous logging is stored (a no-op without
        ``MODELYARD_ASYNC_LOGGING``); raise what a background send met."""
        if self._queue is not None:
            self._queue.flush()

    def get_run(self, run_id: str) -> Run:
        self.flush()
        return self._store.get_run(run_id)

    def resolve_run_id(self, ref: str) -> str:
        """The full id of the run whose id is ``ref`` or starts with it (a unique prefix, such
        as the 8 characters ``modelyard runs search`` prints); an ambiguous prefix is a
        ValidationError naming the runs it could be."""
        return self._store.resolve_run_id(ref)

    def set_terminated(
        self, run_id: str, status: RunStatus | str = RunStatus.FINISHED, end_time: int | None = None
    ) -> None:
        """End a run: FINISHED, FAILED or KILLED."""
        final = _status(status)
        if not final.is_terminated:
            raise ValidationError(
                f"status {final.value!r} does not end a run; use FINISHED, FAILED or KILLED"
            )
        self.flush()
        self._store.set_run_status(run_id, final, end_time if end_time is not None else now_ms())
        with contextlib.suppress(Exception):  # lineage never fails the run
            self._lineage_ended(run_id, final)

    def resume_run(self, run_id: str) -> Run:
        """Mark a finished run RUNNING again so that it accepts more data."""
        run = self._store.get_run(run_id)
        if run.info.lifecycle_stage is not LifecycleStage.ACTIVE:
            raise ValidationError(f"run {run_id!r} is deleted; restore it before resuming")
        self._store.set_run_status(run_id, RunStatus.RUNNING, None)
        return self._store.get_run(run_id)

    def update_run(
        self, run_id: str, status: RunStatus | str | None = None, name: str | None = None
    ) -> None:
        if name is not None:
            self._store.rename_run(run_id, v.check_name(name, "run name"))
        if status is not None:
            final = _status(status)
            self._store.set_run_status(run_id, final, now_ms() if final.is_terminated else None)
            if final.is_terminated:
                with contextlib.suppress(Exception):  # lineage never fails the run
                    self._lineage_ended(run_id, final)

    def delete_run(self, run_id: str) -> None:
        self._store.set_run_lifecycle(run_id, LifecycleStage.DELETED)

    def restore_run(self, run_id: str) -> None:
        self._store.set_run_lifecycle(run_id, LifecycleStage.ACTIVE)

    # -- data ------------------------------------------------------------------------

    def log_metric(
        self,
        run_id: str,
        key: str,
        value: float,
        timestamp: int | None = None,
        step: int | None = None,
    ) -> None:
        """Append one point; it is durable when this returns (with
        ``MODELYARD_ASYNC_LOGGING=true``: queued, and durable after ``flush`` or ``end_run``)."""
        v.check_key(key, "metric key")
        metric = Metric(
            key,
            v.check_metric_value(key, value),
            now_ms() if timestamp is None else v.check_timestamp(key, timestamp),
            0 if step is None else v.check_step(key, step),
        )
        if self._queue is not None:
            self._queue.put(run_id, metric)
        else:
            self._store.log_metric(run_id, metric)

    def log_param(self, run_id: str, key: str, value: Any) -> Any:
        self.log_batch(run_id, params=[Param(key, value)])
        return value

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        self.log_batch(run_id, tags=[RunTag(key, value)])

    def delete_tag(self, run_id: str, key: str) -> None:
        self._store.delete_tag(run_id, key)

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
    ) -> None:
        """Log many points, params and tags in one transaction: all of them or none.

        There is no size cap: 10,000 points is one call.
        """
        clean_metrics: list[Metric] = []
        now = now_ms()
        for m in metrics:
            if not isinstance(m, Metric):
                raise ValidationError(
                    f"log_batch metrics must be Metric objects, got {type(m).__name__}"
                )
            key = v.check_key(m.key, "metric key")
            value = m.value if type(m.value) is float else v.check_metric_value(key, m.value)
            ts = (
                m.timestamp
                if type(m.timestamp) is int
                else (now if m.timestamp is None else v.check_timestamp(key, m.timestamp))
            )
            step = m.step if type(m.step) is int else v.check_step(key, m.step)
            if value is m.value and ts is m.timestamp and step is m.step:
                clean_metrics.append(m)
            else:
                clean_metrics.append(Metric(key, value, ts, step))
        clean_params = [
            Param(v.check_key(p.key, "param key"), v.param_value(p.key, p.value)) for p in params
        ]
        clean_tags = [
            RunTag(v.check_key(t.key, "tag key"), v.tag_value(t.key, t.value)) for t in tags
        ]
        self._store.log_batch(run_id, clean_metrics, clean_params, clean_tags)

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every point of one metric series, by step then time."""
        self.flush()
        return self._store.get_metric_history(run_id, key)

    def log_input(self, run_id: str, dataset: DatasetVersion, context: str = "training") -> None:
        """Record that the run consumed ``dataset`` (e.g. ``modelyard.data.from_pandas(df)``)."""
        if not isinstance(dataset, DatasetVersion):
            raise ValidationError(
                f"log_input expects a DatasetVersion (see modelyard.data.from_pandas), "
                f"got {type(dataset).__name__}"
            )
        v.check_name(dataset.name, "dataset name")
        self._store.log_input(run_id, dataset, v.check_key(context, "input context"))

    # -- artifacts -------------------------------------------------------------------

    def log_artifact(
        self, run_id: str, local_path: str | os.PathLike[str], artifact_path: str | None = None
    ) -> None:
        """Store a file under ``artifact_path/<file name>`` of the run."""
        path = Path(local_path)
        if path.is_dir():
            raise ValidationError(f"{str(path)!r} is a folder; use log_artifacts for folders")
        base = v.check_artifact_path(artifact_path)
        target = v.check_artifact_path(f"{base}/{path.name}" if base else path.name)
        digest, size = self.blobs.put_file(path)
        self._store.record_artifacts(run_id, [(target, digest, size)])

    def log_artifacts(
        self,
        run_id: str,
        local_dir: str | os.PathLike[str],
        artifact_path: str | None = None,
        *,
        follow_symlinks: bool = False,
    ) -> None:
        """Store every file under ``local_dir``; recorded in one transaction at the end.

        Every file's name is checked as ``log_artifact`` checks it, all before anything is
        stored. A symbolic link is refused (ValidationError naming it) unless
        ``follow_symlinks=True``, which stores what it points to under the link's name."""
        root = Path(local_dir)
        if not root.is_dir():
            raise ValidationError(f"{str(root)!r} is not a folder; use log_artifact for a file")
        base = v.check_artifact_path(artifact_path)
        targets: dict[str, Path] = {}
        for rel, path in files_under(root, follow_symlinks=follow_symlinks):
            target = v.check_artifact_path(f"{base}/{rel}" if base else rel)
            if target in targets:
                raise ValidationError(
                    f"{rel[:200]!r} and another file of {str(root)!r} would both be stored as "
                    f"{target[:200]!r}; rename one of them"
                )
            targets[target] = path
        files: list[tuple[str, str, int]] = []
        for target, path in targets.items():
            digest, size = self.blobs.put_file(path)
            files.append((target, digest, size))
        self._store.record_artifacts(run_id, files)

    def log_bytes(self, run_id: str, data: bytes, artifact_file: str) -> None:
        target = v.check_artifact_path(artifact_file)
        if not target:
            raise ValidationError("artifact_file is empty; name the file, e.g. 'notes.txt'")
        digest, size = self.blobs.put_bytes(data)
        self._store.record_artifacts(run_id, [(target, digest, size)])

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        self.log_bytes(run_id, text.encode("utf-8"), artifact_file)

    def log_dict(self, run_id: str, dictionary: dict[str, Any], artifact_file: str) -> None:
        """Store a dict as JSON, or YAML when the file name ends in .yaml/.yml."""
        if artifact_file.endswith((".yaml", ".yml")):
            text = yaml.safe_dump(dictionary, sort_keys=False)
        else:
            text = json.dumps(dictionary, indent=2, default=str)
        self.log_text(run_id, text, artifact_file)

    def _files(self, run_id: str, path: str) -> list[tuple[str, str, int]]:
        return self._store.artifact_rows(run_id, v.check_artifact_path(path))

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[FileInfo]:
        """The files and folders directly under ``path`` (the run's root by default)."""
        prefix = v.check_artifact_path(path)
        entries: dict[str, FileInfo] = {}
        for file_path, digest, size in self._files(run_id, prefix):
            rest = file_path[len(prefix) + 1 :] if prefix else file_path
            if not rest:  # prefix names a file
                entries[file_path] = FileInfo(file_path, False, size, digest)
                continue
            head, _, tail = rest.partition("/")
            child = f"{prefix}/{head}" if prefix else head
            entries[child] = FileInfo(child, True) if tail else FileInfo(child, False, size, digest)
        return sorted(entries.values(), key=lambda f: f.path)

    def list_artifact_files(self, run_id: str, path: str | None = None) -> list[FileInfo]:
        """Every file under ``path``, recursively."""
        return [FileInfo(p, False, s, d) for p, d, s in self._files(run_id, path or "")]

    def download_artifacts(
        self, run_id: str, path: str = "", dst_path: str | os.PathLike[str] | None = None
    ) -> str:
        """Copy a file or folder of the run to ``dst_path`` (a new temp folder by default),
        checking every byte against its sha256; return the local path."""
        import tempfile

        prefix = v.check_artifact_path(path)
        files = self._files(run_id, prefix)
        if not files:
            raise NotFoundError(f"run {run_id!r} has no artifact {prefix or '(root)'!r}")
        dest_root = (
            Path(dst_path) if dst_path is not None else Path(tempfile.mkdtemp(prefix="modelyard-"))
        )
        base = prefix.rsplit("/", 1)[0] if prefix and "/" in prefix else ""
        self.blobs.get_tree(
            {(p[len(base) + 1 :] if base else p): (d, s) for p, d, s in files}, dest_root
        )
        return str(dest_root / (prefix[len(base) + 1 :] if base else prefix))

    def read_artifact(self, run_id: str, path: str) -> bytes:
        """The verified bytes of one artifact file."""
        target = v.check_artifact_path(path)
        for file_path, digest, _ in self._files(run_id, target):
            if file_path == target:
                return self.blobs.get_bytes(digest)
        raise NotFoundError(f"run {run_id!r} has no artifact file {target!r}")

    # -- configs and comparisons -------------------------------------------------------

    def log_config(
        self, run_id: str, cfg: Any, artifact_file: str = "config.yaml"
    ) -> dict[str, str]:
        """Log a YAML file, dict or OmegaConf/Hydra config: leaves as params, file as artifact."""
        return _config.log_config(self, run_id, cfg, artifact_file)

    def compare_runs(
        self, run_ids: Sequence[str], *, include_tags: bool = False, only_differences: bool = False
    ) -> Any:
        """A DataFrame with one row per run and its metrics and params as columns."""
        return _compare.compare_runs(
            self, run_ids, include_tags=include_tags, only_differences=only_differences
        )

    def plot_metric_history(
        self,
        run_ids: Sequence[str],
        path: str | os.PathLike[str],
        keys: Sequence[str] | None = None,
    ) -> Path:
        """Plot the metric series of the runs (all metrics unless ``keys``) into a PNG."""
        return _compare.plot_metric_history(self, run_ids, keys, path)

    # -- search ----------------------------------------------------------------------

    def search_runs(
        self,
        experiment_ids: Iterable[str] | str,
        filter_string: str = "",
        run_view_type: ViewType | str | int = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList:
        """Runs matching ``filter_string``, e.g. ``metrics.auc > 0.8 and params.model = 'gbm'``.

        ``order_by`` takes clauses like ``"metrics.auc DESC"``; the result's ``.token``
        fetches the next page.
        """
        ids = (
            [experiment_ids]
            if isinstance(experiment_ids, str)
            else [str(e) for e in experiment_ids]
        )
        return self._store.search_runs(
            ids, filter_string, _view(run_view_type), max_results, order_by, page_token
        )
