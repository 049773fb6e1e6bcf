"""What every framework's ``autolog`` shares: the settings, the patches it makes (and undoes),
the rule that only the outermost training call logs, and the run it logs to.

A training call inside an autologged one (a search's candidates, LightGBM's ``train`` inside
``LGBMClassifier.fit``, possibly on joblib's worker threads) does not log: a process-wide
depth counts them. A call outside any run gets a run of its own, named after the model
class, ended FINISHED when logging is done.
"""

from __future__ import annotations

import functools
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from modelyard.core.entities import Metric, Param, RunTag
from modelyard.core.errors import NotSupportedError
from modelyard.core.ids import now_ms
from modelyard.registry._fluent import get_client
from modelyard.tracking import _fluent

MAX_PARAM_LENGTH = 6000


@dataclass
class Settings:
    """One framework's autolog options (MLflow's names)."""

    log_models: bool = True
    exclusive: bool = False
    silent: bool = False
    registered_model_name: str | None = None
    extra_tags: dict[str, str] = field(default_factory=dict)
    max_tuning_runs: int | None = 5  # scikit-learn searches: child runs for the best N


def configure(
    settings: Settings,
    *,
    log_models: bool,
    exclusive: bool,
    silent: bool,
    registered_model_name: str | None,
    extra_tags: Mapping[str, Any] | None,
) -> None:
    settings.log_models = log_models
    settings.exclusive = exclusive
    settings.silent = silent
    settings.registered_model_name = registered_model_name
    settings.extra_tags = {str(k): str(v) for k, v in (extra_tags or {}).items()}


def check_options(framework: str, log_datasets: bool, log_post_training_metrics: bool) -> None:
    """Refuse the MLflow autolog options modelyard does not offer, naming what to do instead."""
    if log_datasets:
        raise NotSupportedError(
            f"modelyard.{framework}.autolog(log_datasets=True) is not supported: record the "
            "training data with modelyard.log_input(modelyard.data.from_pandas(df), "
            "context='training') inside the run"
        )
    if log_post_training_metrics:
        raise NotSupportedError(
            f"modelyard.{framework}.autolog(log_post_training_metrics=True) is not supported: "
            "log metrics computed after training with modelyard.log_metric, or evaluate the "
            "model with modelyard.evaluate(model, data, targets=...)"
        )


# -- patches -----------------------------------------------------------------------------

_MISSING = object()


class Patches:
    """Attributes autolog replaced, with what was there, so that disabling restores them."""

    def __init__(self) -> None:
        self._saved: dict[tuple[int, str], tuple[Any, str, Any]] = {}

    def patch(self, owner: Any, name: str, wrap: Callable[[Callable[..., Any]], Any]) -> None:
        """Replace ``owner.name`` by ``wrap(original)``, once."""
        key = (id(owner), name)
        current = getattr(owner, name, None)
        if current is None or key in self._saved or getattr(current, "__modelyard_autolog__", False):
            return
        own = owner.__dict__.get(name, _MISSING) if isinstance(owner, type) else current
        self._saved[key] = (owner, name, own)
        wrapped = wrap(current)
        wrapped.__modelyard_autolog__ = True
        setattr(owner, name, wrapped)

    def restore(self) -> None:
        for owner, name, own in self._saved.values():
            if own is _MISSING:
                delattr(owner, name)
            else:
                setattr(owner, name, own)
        self._saved.clear()


# -- the outermost call ------------------------------------------------------------------

_depth_lock = threading.Lock()
_depth = 0


@contextmanager
def outermost() -> Iterator[bool]:
    """True for the outermost autologged training call in the process, False inside one."""
    global _depth
    with _depth_lock:
        first = _depth == 0
        _depth += 1
    try:
        yield first
    finally:
        with _depth_lock:
            _depth -= 1


Prepare = Callable[[tuple[Any, ...], dict[str, Any]], tuple[tuple[Any, ...], dict[str, Any], Any]]
Log = Callable[[Any, tuple[Any, ...], dict[str, Any], Any], None]


def wrap_training(
    original: Callable[..., Any], settings: Settings, log: Log, prepare: Prepare | None = None
) -> Callable[..., Any]:
    """``original`` (a fit method or a train function) that, when it is the outermost call
    and may log (not ``exclusive`` inside a run of the user's), calls
    ``log(result, args, kwargs, context)`` after it returns; a logging failure is a warning
    (none with ``silent``), never a failed training call. ``prepare(args, kwargs)`` may
    change the call (add an evaluation recorder) and returns ``(args, kwargs, context)``."""

    @functools.wraps(original)
    def training(*args: Any, **kwargs: Any) -> Any:
        with outermost() as first:
            if not first or (settings.exclusive and _fluent.active_run() is not None):
                return original(*args, **kwargs)
            call_args, call_kwargs, context = (
                prepare(args, kwargs) if prepare is not None else (args, kwargs, None)
            )
            result = original(*call_args, **call_kwargs)
        try:
            log(result, args, kwargs, context)
        except Exception as error:  # logging never fails the training call (as in MLflow)
            if not settings.silent:
                warnings.warn(
                    f"autolog could not log this training call: {type(error).__name__}: {error}",
                    UserWarning,
                    stacklevel=2,
                )
        return result

    return training


# -- the run -----------------------------------------------------------------------------


@contextmanager
def autolog_run(run_name: str, settings: Settings) -> Iterator[str]:
    """The active run's id, or a new run's (named ``run_name``) that ends when logging does."""
    active = _fluent.active_run()
    own = active is None
    run_id = (
        _fluent.start_run(run_name=run_name, tags=dict(settings.extra_tags)).info.run_id
        if own
        else active.info.run_id  # type: ignore[union-attr]
    )
    try:
        if not own and settings.extra_tags:
            set_tags(run_id, settings.extra_tags)
        yield run_id
    finally:
        if own:
            _fluent.end_run()


def params_of(values: Mapping[str, Any]) -> list[Param]:
    return [Param(str(k), str(v)[:MAX_PARAM_LENGTH]) for k, v in values.items()]


def log_params(run_id: str, values: Mapping[str, Any]) -> None:
    if values:
        get_client().log_batch(run_id, params=params_of(values))


def set_tags(run_id: str, values: Mapping[str, Any]) -> None:
    if values:
        get_client().log_batch(run_id, tags=[RunTag(str(k), str(v)) for k, v in values.items()])


def log_metrics(run_id: str, values: Mapping[str, float], step: int = 0) -> None:
    if values:
        now = now_ms()
        get_client().log_batch(
            run_id, metrics=[Metric(k, float(v), now, step) for k, v in values.items()]
        )


def log_series(run_id: str, results: Mapping[str, Mapping[str, Any]]) -> int:
    """Per-iteration evaluation results ``{dataset: {metric: [v0, v1, ...]}}`` as the series
    ``<dataset>-<metric>`` with step = iteration, in one batch; the number of iterations."""
    now = now_ms()
    points: list[Metric] = []
    iterations = 0
    for data_name, metrics in results.items():
        for metric_name, values in metrics.items():
            series = list(values)
            iterations = max(iterations, len(series))
            for step, value in enumerate(series):
                if isinstance(value, tuple | list):  # cv results: (mean, std)
                    value = value[0]
                points.append(Metric(f"{data_name}-{metric_name}", float(value), now, step))
    if points:
        get_client().log_batch(run_id, metrics=points)
    return iterations


def at_iteration(results: Mapping[str, Mapping[str, Any]], index: int) -> dict[str, float]:
    """Each series' value at ``index``: what a model cut at its best iteration scores."""
    found: dict[str, float] = {}
    for data_name, metrics in results.items():
        for metric_name, values in metrics.items():
            series = list(values)
            if 0 <= index < len(series):
                value = series[index]
                found[f"{data_name}-{metric_name}"] = float(
                    value[0] if isinstance(value, tuple | list) else value
                )
    return found


def log_fitted_model(
    run_id: str, model: Any, example: Any, settings: Settings, artifact_path: str = "model"
) -> None:
    """Log the fitted model as a bundle (and register it when a name was set); a model that
    cannot be saved is a warning, never a failed training call."""
    if not settings.log_models:
        return
    try:
        get_client().log_model(
            run_id,
            model,
            artifact_path,
            input_example=example,
            registered_model_name=settings.registered_model_name,
        )
    except Exception as error:
        if not settings.silent:
            warnings.warn(
                f"autolog could not log the fitted model: {error}", UserWarning, stacklevel=4
            )


def head(data: Any, rows: int = 5) -> Any:
    """The first rows of training data, as an input example (None when there is no such thing)."""
    if data is None:
        return None
    try:
        if hasattr(data, "iloc"):
            return data.iloc[:rows].copy()
        if hasattr(data, "shape") and hasattr(data, "__getitem__") and len(data.shape) == 2:
            return data[:rows].copy()
    except Exception:
        return None
    return None
