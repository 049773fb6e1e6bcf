"""The fluent API (``modelyard.start_run``, ``log_metric`` ...): a thin layer over one Client.

The only state kept here is the current client (from the tracking URI), the current
experiment, and a per-thread stack of active runs.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Iterable
from typing import Any

from modelyard.core import settings
from modelyard.core import validation as v
from modelyard.core.entities import (
    DatasetVersion,
    Experiment,
    Metric,
    Param,
    Run,
    RunData,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
)
from modelyard.core.errors import InvalidStateError, NotFoundError, ValidationError
from modelyard.core.ids import now_ms
from modelyard.core.uris import parse_runs_uri
from modelyard.tracking import _context
from modelyard.tracking._client import Client
from modelyard.tracking._compare import runs_to_frame

DEFAULT_EXPERIMENT = "Default"

_lock = threading.Lock()
_client: Client | None = None
_experiment_id: str | None = None
_local = threading.local()
_last_run_id: str | None = None
_client_class: type[Client] = Client


def use_client_class(cls: type[Client]) -> None:
    """Let a higher layer (the registry) extend the client the fluent API uses."""
    global _client_class, _client
    with _lock:
        _client_class = cls
        if _client is not None and not isinstance(_client, cls):
            _client = None


def _stack() -> list[ActiveRun]:
    stack: list[ActiveRun] | None = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    return stack


def get_client() -> Client:
    """The client behind the fluent API (created on first use)."""
    global _client
    with _lock:
        if _client is None:
            _client = _client_class()
        return _client


def set_tracking_uri(uri: str | os.PathLike[str] | None) -> None:
    """Where runs go: a folder, ``sqlite:///file.db``, ``postgresql://...`` or a team server's
    ``http://host:port`` (token from ``$MODELYARD_TRACKING_TOKEN``); None resets to
    ``$MODELYARD_TRACKING_URI`` or the home folder. ``Client()`` follows it too."""
    global _client, _experiment_id
    with _lock:
        settings.set_tracking_uri(uri)
        _client = None
        _experiment_id = None


def get_tracking_uri() -> str:
    return get_client().tracking_uri


def set_experiment(
    experiment_name: str | None = None, experiment_id: str | None = None
) -> Experiment:
    """Make an experiment current, creating it by name when missing."""
    global _experiment_id
    client = get_client()
    if (experiment_name is None) == (experiment_id is None):
        raise ValidationError(
            "set_experiment needs exactly one of experiment_name or experiment_id"
        )
    if experiment_id is not None:
        experiment = client.get_experiment(str(experiment_id))
    else:
        experiment = client.get_or_create_experiment(
            v.check_name(experiment_name, "experiment name")
        )
    if experiment.lifecycle_stage.value != "active":
        raise InvalidStateError(
            f"experiment {experiment.name!r} is deleted; restore it with "
            f"`modelyard experiments restore {experiment.experiment_id}`"
        )
    _experiment_id = experiment.experiment_id
    return experiment


def _current_experiment_id() -> str:
    if _experiment_id is not None:
        return _experiment_id
    env_name = os.environ.get("MODELYARD_EXPERIMENT_NAME")
    return set_experiment(env_name or DEFAULT_EXPERIMENT).experiment_id


class ActiveRun:
    """The run a ``with start_run():`` block logs to; ends it on exit (FAILED on error)."""

    def __init__(self, run: Run) -> None:
        self._run = run

    @property
    def info(self) -> RunInfo:
        return self._run.info

    @property
    def data(self) -> RunData:
        """The run's data when it started (read ``get_run`` for the current data)."""
        return self._run.data

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: Any) -> None:
        if exc_type is None:
            status = RunStatus.FINISHED
        elif issubclass(exc_type, KeyboardInterrupt):
            status = RunStatus.KILLED
        else:
            status = RunStatus.FAILED
        stack = _stack()
        if any(r.info.run_id == self.info.run_id for r in stack):
            # end this run and anything started inside it and left open
            while stack:
                end_run(status)
                if _last_run_id == self.info.run_id:
                    break

    def __repr__(self) -> str:
        return f"<ActiveRun {self.info.run_id} {self.info.run_name!r}>"


def start_run(
    run_id: str | None = None,
    experiment_id: str | None = None,
    run_name: str | None = None,
    nested: bool = False,
    tags: dict[str, Any] | None = None,
    description: str | None = None,
    parent_run_id: str | None = None,
    log_context: bool = True,
) -> ActiveRun:
    """Start a run (or resume ``run_id``) and make it active.

    A run started while another is active must say ``nested=True``; it becomes a child
    of the active one. The run records git commit and dirty flag, Python, installed
    packages, command line and host unless ``log_context=False``.
    """
    client = get_client()
    stack = _stack()
    if stack and not nested and parent_run_id is None:
        raise InvalidStateError(
            f"run {stack[-1].info.run_id!r} is already active; end it with end_run(), or "
            "start this one with nested=True to make it a child run"
        )
    if run_id is not None:
        run = client.get_run(run_id)
        if run.info.status.is_terminated:
            run = client.resume_run(run_id)
        active = ActiveRun(run)
        stack.append(active)
        return active
    parent = parent_run_id or (stack[-1].info.run_id if stack else None)
    all_tags: dict[str, Any] = {}
    context: dict[str, Any] = {}
    if log_context:
        context = _context.capture()
        all_tags.update(_context.context_tags(context))
    if description:
        all_tags["modelyard.note"] = description
    all_tags.update(tags or {})
    run = client.create_run(
        experiment_id or _current_experiment_id(),
        tags=all_tags,
        run_name=run_name,
        parent_run_id=parent,
        context=context,
    )
    active = ActiveRun(run)
    stack.append(active)
    return active


def end_run(status: RunStatus | str = RunStatus.FINISHED) -> None:
    """End the innermost active run; a no-op when none is active."""
    global _last_run_id
    stack = _stack()
    if not stack:
        return
    run = stack.pop()
    _last_run_id = run.info.run_id
    get_client().set_terminated(run.info.run_id, status)


def active_run() -> ActiveRun | None:
    stack = _stack()
    return stack[-1] if stack else None


def last_active_run() -> Run | None:
    """The run active now, else the one that ended last in this process."""
    current = active_run()
    run_id = current.info.run_id if current else _last_run_id
    return None if run_id is None else get_client().get_run(run_id)


def _run_id() -> str:
    stack = _stack()
    if stack:
        return stack[-1].info.run_id
    return start_run().info.run_id


# -- logging ---------------------------------------------------------------------------


def log_metric(
    key: str,
    value: float,
    step: int | None = None,
    timestamp: int | None = None,
    run_id: str | None = None,
) -> None:
    """Append a point to the series ``key`` of the active run; durable when this returns."""
    get_client().log_metric(run_id or _run_id(), key, value, timestamp, step)


def log_metrics(
    metrics: dict[str, float],
    step: int | None = None,
    timestamp: int | None = None,
    run_id: str | None = None,
) -> None:
    ts = now_ms() if timestamp is None else timestamp
    get_client().log_batch(
        run_id or _run_id(), metrics=[Metric(k, val, ts, step or 0) for k, val in metrics.items()]
    )


def log_param(key: str, value: Any) -> Any:
    get_client().log_batch(_run_id(), params=[Param(key, value)])
    return value


def log_params(params: dict[str, Any]) -> None:
    get_client().log_batch(_run_id(), params=[Param(k, val) for k, val in params.items()])


def set_tag(key: str, value: Any) -> None:
    get_client().log_batch(_run_id(), tags=[RunTag(key, value)])


def set_tags(tags: dict[str, Any]) -> None:
    get_client().log_batch(_run_id(), tags=[RunTag(k, val) for k, val in tags.items()])


def delete_tag(key: str) -> None:
    get_client().delete_tag(_run_id(), key)


def log_artifact(local_path: str | os.PathLike[str], artifact_path: str | None = None) -> None:
    get_client().log_artifact(_run_id(), local_path, artifact_path)


def log_artifacts(
    local_dir: str | os.PathLike[str],
    artifact_path: str | None = None,
    *,
    follow_symlinks: bool = False,
) -> None:
    """Store every file under ``local_dir`` in the active run (links refused unless
    ``follow_symlinks=True``)."""
    get_client().log_artifacts(_run_id(), local_dir, artifact_path, follow_symlinks=follow_symlinks)


def log_text(text: str, artifact_file: str) -> None:
    get_client().log_text(_run_id(), text, artifact_file)


def log_dict(dictionary: dict[str, Any], artifact_file: str) -> None:
    get_client().log_dict(_run_id(), dictionary, artifact_file)


def log_input(dataset: DatasetVersion, context: str = "training") -> None:
    get_client().log_input(_run_id(), dataset, context)


def log_config(cfg: Any, artifact_file: str = "config.yaml") -> dict[str, str]:
    """Log a YAML file, dict or OmegaConf/Hydra config: every leaf as a param
    (``model.lr``), the config itself as the artifact ``config.yaml``."""
    return get_client().log_config(_run_id(), cfg, artifact_file)


def compare_runs(
    run_ids: Iterable[str], *, include_tags: bool = False, only_differences: bool = False
) -> Any:
    """A DataFrame with one row per run and its metrics and params as columns."""
    return get_client().compare_runs(
        list(run_ids), include_tags=include_tags, only_differences=only_differences
    )


def plot_metric_history(
    run_ids: Iterable[str], path: str | os.PathLike[str], keys: Iterable[str] | None = None
) -> Any:
    """Plot the metric series of the runs into a PNG file; returns its path."""
    return get_client().plot_metric_history(
        list(run_ids), path, None if keys is None else list(keys)
    )


def log_figure(figure: Any, artifact_file: str) -> None:
    """Store a matplotlib figure as an image (PNG unless the name says otherwise)."""
    import io

    buffer = io.BytesIO()
    suffix = artifact_file.rsplit(".", 1)[-1].lower() if "." in artifact_file else "png"
    figure.savefig(buffer, format=suffix)
    get_client().log_bytes(_run_id(), buffer.getvalue(), artifact_file)


def download_artifacts(artifact_uri: str, dst_path: str | os.PathLike[str] | None = None) -> str:
    """Copy ``runs:/<run-id>/<path>`` to a local folder (verified); return the local path."""
    parsed = parse_runs_uri(artifact_uri)
    return get_client().download_artifacts(parsed.run_id, parsed.path, dst_path)


def create_experiment(name: str, tags: dict[str, Any] | None = None) -> str:
    return get_client().create_experiment(name, tags)


def get_experiment(experiment_id: str) -> Experiment:
    return get_client().get_experiment(experiment_id)


def get_experiment_by_name(name: str) -> Experiment | None:
    return get_client().get_experiment_by_name(name)


def search_experiments(
    view_type: ViewType | str = ViewType.ACTIVE_ONLY, name_like: str | None = None
) -> list[Experiment]:
    return get_client().search_experiments(view_type, name_like)


def delete_experiment(experiment_id: str) -> None:
    get_client().delete_experiment(experiment_id)


def set_experiment_tag(key: str, value: Any) -> None:
    get_client().set_experiment_tag(_current_experiment_id(), key, value)


def delete_run(run_id: str) -> None:
    get_client().delete_run(run_id)


def get_run(run_id: str) -> Run:
    return get_client().get_run(run_id)


def get_artifact_uri(artifact_path: str | None = None) -> str:
    """The active run's artifacts as a URI, as in MLflow: ``runs:/<run-id>`` (or
    ``runs:/<run-id>/<artifact_path>``), which ``download_artifacts`` and ``load_model`` take.
    Starts a run when none is active."""
    run_id = _run_id()
    path = v.check_artifact_path(artifact_path)
    return f"runs:/{run_id}/{path}" if path else f"runs:/{run_id}"


# -- search ----------------------------------------------------------------------------


def _experiment_ids(
    experiment_ids: Iterable[str] | str | None,
    experiment_names: Iterable[str] | None,
    search_all: bool,
) -> list[str]:
    client = get_client()
    if search_all:
        return [e.experiment_id for e in client.search_experiments()]
    ids = (
        [experiment_ids]
        if isinstance(experiment_ids, str)
        else [str(e) for e in experiment_ids or []]
    )
    for name in experiment_names or []:
        found = client.get_experiment_by_name(name)
        if found is None:
            raise NotFoundError(f"experiment {name!r} does not exist")
        ids.append(found.experiment_id)
    return ids or [_current_experiment_id()]


def search_runs(
    experiment_ids: Iterable[str] | str | None = None,
    filter_string: str = "",
    run_view_type: ViewType | str = ViewType.ACTIVE_ONLY,
    max_results: int = 100_000,
    order_by: list[str] | None = None,
    output_format: str = "pandas",
    search_all_experiments: bool = False,
    experiment_names: Iterable[str] | None = None,
) -> Any:
    """Runs as a DataFrame (``output_format="pandas"``) or a list of Run (``"list"``)."""
    if output_format not in ("pandas", "list"):
        raise ValidationError(f"output_format {output_format!r} is not 'pandas' or 'list'")
    client = get_client()
    ids = _experiment_ids(experiment_ids, experiment_names, search_all_experiments)
    found: list[Run] = []
    token: str | None = None
    while len(found) < max_results:
        page = client.search_runs(
            ids,
            filter_string,
            run_view_type,
            min(max_results - len(found), 10_000),
            order_by,
            token,
        )
        found.extend(page)
        token = page.token
        if token is None:
            break
    if output_format == "list":
        return found
    return runs_to_frame(found)


@atexit.register
def _end_runs_at_exit() -> None:
    try:
        while _stack():
            end_run(RunStatus.FINISHED)
    except Exception:
        pass
