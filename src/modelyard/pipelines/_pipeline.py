"""Steps and pipelines: decorated functions whose DAG follows from their data.

```python
@step
def load(rows: int) -> pd.DataFrame: ...

@step
def train(data: pd.DataFrame, C: float = 1.0) -> ModelVersion: ...

@pipeline
def training(rows: int = 1000, C: float = 1.0):
    return train(load(rows), C=C)

result = training.run(rows=5000)            # in-process; engine="process" | "ray"
```

With ``engine="ray"`` each step is a Ray task (see ``_ray``): on a private local Ray, or on
a cluster (``ray_address=`` or ``$RAY_ADDRESS``), with the resources the step declares
(``@step(resources={"num_cpus": 2})``) and retried elsewhere when its node dies; the step's
result is recorded once, from the attempt that finished.

Calling the pipeline traces it: each step call returns a placeholder and records a node;
an argument that is another step's placeholder is an edge. A step is skipped when the hash
of its code, its inputs and its parameters matches an earlier run (its output, stored in the
content-addressed artifact store, is reused); ``@step(cache=False)`` always runs (for steps
with side effects such as promotion). Each pipeline run is recorded with its steps, their
cache keys and outputs, and the tracking runs, model versions and datasets they produced.
"""

from __future__ import annotations

import contextvars
import hashlib
import inspect
import os
import socket
import textwrap
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, overload

import cloudpickle

from modelyard.core.entities import DatasetVersion, RunStatus
from modelyard.core.errors import ConflictError, ValidationError
from modelyard.core.ids import now_ms
from modelyard.core.models import ModelVersion
from modelyard.pipelines._openlineage import PipelineLineage
from modelyard.pipelines._payload import ATTEMPT_ENV, pack, run_payload
from modelyard.pipelines._ray import RayRunner, check_resources
from modelyard.registry import Client
from modelyard.store._pipeline_store import StepRunRow
from modelyard.tracking._openlineage import PIPELINE_NAME_ENV

Clock = Callable[[], datetime]  # "now", as an aware UTC datetime


def utc_now() -> datetime:
    return datetime.now(UTC)


def clock_ms(clock: Clock) -> Callable[[], int]:
    """``clock`` in the unit of stored timestamps (milliseconds since the epoch)."""
    return lambda: int(clock().timestamp() * 1000)


PIPELINE_RUN_ENV = "MODELYARD_PIPELINE_RUN"
PIPELINE_STEP_ENV = "MODELYARD_PIPELINE_STEP"
ATTEMPT_TAG = "modelyard.pipeline_attempt"  # set from $MODELYARD_PIPELINE_ATTEMPT (see _payload)
ENGINES = ("inprocess", "process", "ray")
_TRACE: contextvars.ContextVar[list[Node] | None] = contextvars.ContextVar("modelyard_pipeline_trace", default=None)


def _code_hash(fn: Callable[..., Any]) -> str:
    try:
        source = textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError):  # no source (a lambda in a REPL): the bytecode stands in
        code = getattr(fn, "__code__", None)
        source = repr(code.co_code) if code is not None else repr(fn)
    # the module name is stable across processes (see _loader: never hash()-derived)
    return hashlib.sha256(f"{fn.__module__}.{fn.__qualname__}\n{source}".encode()).hexdigest()


def _value_hash(value: Any) -> str:
    """The digest of a step input, the same in every process."""
    try:
        data = cloudpickle.dumps(_ordered(value), protocol=5)
    except Exception as error:
        raise ValidationError(f"a step input of type {type(value).__name__} cannot be hashed for the cache ({error})") from None
    return hashlib.sha256(data).hexdigest()


def _ordered(value: Any) -> Any:
    """``value`` with every set replaced by its items in a fixed order: a set pickles in hash
    order, which Python salts per process for strings. Other values come back unchanged."""
    if isinstance(value, set | frozenset):
        items = sorted(cloudpickle.dumps(_ordered(v), protocol=5) for v in value)
        return ("modelyard:set", type(value).__name__, tuple(items))
    if type(value) in (list, tuple):
        items = [_ordered(v) for v in value]
        changed = any(a is not b for a, b in zip(items, value, strict=True))
        return type(value)(items) if changed else value
    if type(value) is dict:
        pairs = [(_ordered(k), _ordered(v)) for k, v in value.items()]
        changed = any(k is not k0 or v is not v0 for (k, v), (k0, v0) in zip(pairs, value.items(), strict=True))
        return dict(pairs) if changed else value
    return value


class Output:
    """What a step call returns while a pipeline is traced: a reference to its future value."""

    def __init__(self, node: Node) -> None:
        self.node = node

    def __repr__(self) -> str:
        return f"<output of step {self.node.step.name!r}>"

    def __iter__(self) -> Any:
        raise ValidationError(
            f"the output of step {self.node.step.name!r} is not known while the pipeline is traced; "
            "pass it whole to another step instead of unpacking it"
        )

    def __bool__(self) -> bool:
        raise ValidationError(
            f"the output of step {self.node.step.name!r} is not known while the pipeline is traced; "
            "decide on it inside a step"
        )


@dataclass
class Node:
    step: Step
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    index: int

    @property
    def name(self) -> str:
        return self.step.name if self.index == 0 else f"{self.step.name}#{self.index + 1}"

    def upstream(self) -> list[Node]:
        found: list[Node] = []
        for value in [*self.args, *self.kwargs.values()]:
            _collect(value, found)
        return found


def _collect(value: Any, found: list[Node]) -> None:
    if isinstance(value, Output):
        found.append(value.node)
    elif isinstance(value, list | tuple):
        for item in value:
            _collect(item, found)
    elif isinstance(value, dict):
        for item in value.values():
            _collect(item, found)


def _after(node: Node) -> list[str]:
    """The names of the steps whose outputs ``node`` takes (the pipeline's edges)."""
    return list(dict.fromkeys(n.name for n in node.upstream()))


def _holds_output(value: Any) -> bool:
    found: list[Node] = []
    _collect(value, found)
    return bool(found)


class Step:
    """``resources``: what one run of the step asks Ray for: ``num_cpus``, ``num_gpus``,
    ``memory`` (bytes) and ``resources`` (custom ones by name), passed as task options on the
    Ray engine; checked, then ignored, on the in-process and process engines."""

    def __init__(
        self, fn: Callable[..., Any], *, name: str | None = None, cache: bool = True, resources: dict[str, Any] | None = None
    ) -> None:
        self.fn = fn
        self.name = name or fn.__name__
        self.cache = cache
        self.resources = check_resources(self.name, resources)
        self.code_hash = _code_hash(fn)
        self.__doc__ = fn.__doc__

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        trace = _TRACE.get()
        if trace is None:  # outside a pipeline: a plain function call
            return self.fn(*args, **kwargs)
        node = Node(self, args, kwargs, sum(1 for n in trace if n.step is self))
        trace.append(node)
        return Output(node)


@overload
def step(fn: Callable[..., Any], *, name: str | None = None, cache: bool = True, resources: dict[str, Any] | None = None) -> Step: ...


@overload
def step(
    fn: None = None, *, name: str | None = None, cache: bool = True, resources: dict[str, Any] | None = None
) -> Callable[[Callable[..., Any]], Step]: ...


def step(
    fn: Callable[..., Any] | None = None, *, name: str | None = None, cache: bool = True, resources: dict[str, Any] | None = None
) -> Step | Callable[[Callable[..., Any]], Step]:
    """Make a function a pipeline step (``@step``, ``@step(cache=False)``,
    ``@step(resources={"num_cpus": 2, "memory": 4 * 1024**3})``)."""
    if fn is None:
        return lambda f: Step(f, name=name, cache=cache, resources=resources)
    return Step(fn, name=name, cache=cache, resources=resources)


@dataclass
class StepResult:
    name: str
    status: str  # ran | cached
    cache_key: str
    output_digest: str
    seconds: float
    links: dict[str, Any] = field(default_factory=dict)


@dataclass
class PipelineResult:
    run_id: str
    pipeline: str
    status: str
    steps: list[StepResult]
    output: Any
    seconds: float

    def step(self, name: str) -> StepResult:
        return next(s for s in self.steps if s.name == name)


class Pipeline:
    def __init__(self, fn: Callable[..., Any], *, name: str | None = None) -> None:
        self.fn = fn
        self.name = name or fn.__name__
        self.signature = inspect.signature(fn)
        self.__doc__ = fn.__doc__

    def trace(self, params: dict[str, Any]) -> tuple[list[Node], Any]:
        try:
            bound = self.signature.bind(**params)
        except TypeError as error:
            known = list(self.signature.parameters)
            raise ValidationError(f"pipeline {self.name!r}: {error}; its parameters are {known}") from None
        bound.apply_defaults()
        nodes: list[Node] = []
        token = _TRACE.set(nodes)
        try:
            output = self.fn(*bound.args, **bound.kwargs)
        finally:
            _TRACE.reset(token)
        if not nodes:
            raise ValidationError(f"pipeline {self.name!r} calls no step")
        return nodes, output

    def run(
        self,
        *,
        engine: str = "inprocess",
        ray_address: str | None = None,
        tracking_uri: str | None = None,
        trigger: str = "manual",
        run_id: str | None = None,
        firing_key: str | None = None,
        owner: str | None = None,
        lease_seconds: float = 60.0,
        clock: Clock | None = None,
        **params: Any,
    ) -> PipelineResult:
        """Trace, then execute the steps in order (skipping cached ones); recorded throughout.
        The run's lease is renewed every third of ``lease_seconds``; ``clock`` (a callable
        returning an aware UTC datetime) dates the lease; by default the store's clock does (the
        wall clock here, the server's on a team server). ``ray_address`` (engine ``ray`` only):
        the cluster to run the steps on, ``host:port``, ``ray://host:10001`` or ``auto``
        (default: ``$RAY_ADDRESS``, else a private local Ray)."""
        if engine not in ENGINES:
            raise ValidationError(f"engine {engine!r} is not one of {list(ENGINES)}")
        if ray_address is not None and engine != "ray":
            raise ValidationError(f"ray_address={ray_address!r} applies to engine='ray' only, not engine={engine!r}")
        nodes, output = self.trace(params)
        client = Client(tracking_uri)
        ray = RayRunner(address=ray_address, env=_store_env(client), fns=[n.step.fn for n in nodes]) if engine == "ray" else None
        store = client.store.pipelines
        run_id = run_id or uuid.uuid4().hex
        owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        lease_ms = int(lease_seconds * 1000)
        # no clock given: the store's (a team server dates leases by its own clock, one for all runners)
        ms: Callable[[], int | None] = clock_ms(clock) if clock is not None else lambda: None
        existing = store.get_run(run_id, now=ms())
        if existing is None and not store.create_run(
            run_id, self.name, trigger=trigger, params=params, engine=engine, owner=owner, lease_ms=lease_ms, firing_key=firing_key, now=ms()
        ):
            raise ConflictError(f"firing {firing_key!r} already has a run")
        heartbeat = _Heartbeat(lambda: store.renew(run_id, owner, lease_ms, now=ms()), lease_seconds / 3)
        started = time.perf_counter()
        results: dict[int, tuple[str, Any]] = {}  # id(node) -> (digest, value)
        steps: list[StepResult] = []
        lineage = PipelineLineage(client, run_id, self.name)
        lineage.started()
        try:
            store.renew(run_id, owner, lease_ms, now=ms())
            with heartbeat:
                try:
                    for node in nodes:
                        lineage.step_started(node.name)
                        try:
                            done = self._execute(node, results, client, run_id, engine, ray)
                        except BaseException as error:
                            lineage.step_ended(node.name, None, error)
                            raise
                        lineage.step_ended(node.name, done.links)
                        steps.append(done)
                finally:
                    if ray is not None:
                        ray.close()
        except BaseException as error:
            store.finish(run_id, owner, "failed", f"{type(error).__name__}: {error}"[:2000], now=ms())
            lineage.ended(error)
            raise
        store.finish(run_id, owner, "succeeded", now=ms())
        lineage.ended()
        value = results[id(output.node)][1] if isinstance(output, Output) else output
        return PipelineResult(run_id, self.name, "succeeded", steps, value, time.perf_counter() - started)

    def _execute(
        self, node: Node, results: dict[int, tuple[str, Any]], client: Client, run_id: str, engine: str, ray: RayRunner | None
    ) -> StepResult:
        store = client.store.pipelines

        def resolve(value: Any) -> Any:  # outputs, also inside lists, tuples and dicts
            if isinstance(value, Output):
                return results[id(value.node)][1]
            if isinstance(value, list | tuple):
                return type(value)(resolve(v) for v in value)
            if isinstance(value, dict):
                return {k: resolve(v) for k, v in value.items()}
            return value

        def fingerprint(value: Any) -> str:
            if isinstance(value, Output):
                return results[id(value.node)][0]
            if isinstance(value, list | tuple | dict) and _holds_output(value):
                items = value.items() if isinstance(value, dict) else enumerate(value)
                return hashlib.sha256("|".join(f"{k}:{fingerprint(v)}" for k, v in items).encode()).hexdigest()
            return _value_hash(value)

        parts = [node.step.code_hash] + [fingerprint(a) for a in node.args] + [f"{k}={fingerprint(v)}" for k, v in sorted(node.kwargs.items())]
        cache_key = hashlib.sha256("\n".join(parts).encode()).hexdigest()
        began = now_ms()
        clock = time.perf_counter()
        digest = store.cached(cache_key) if node.step.cache else None
        if digest is not None and client.blobs.exists(digest):
            value = cloudpickle.loads(client.blobs.get_bytes(digest))
            results[id(node)] = (digest, value)
            store.record_step(StepRunRow(run_id, node.name, cache_key, "cached", digest, began, now_ms(), {"after": _after(node)}))
            return StepResult(node.name, "cached", cache_key, digest, time.perf_counter() - clock)
        args = tuple(resolve(a) for a in node.args)
        kwargs = {k: resolve(v) for k, v in node.kwargs.items()}
        env = {
            PIPELINE_RUN_ENV: run_id,
            PIPELINE_STEP_ENV: node.name,
            PIPELINE_NAME_ENV: self.name,
            "MODELYARD_TRACKING_URI": client._location.metadata_url,
        }
        if engine == "inprocess":
            attempt = uuid.uuid4().hex
            env[ATTEMPT_ENV] = attempt
            saved = {k: os.environ.get(k) for k in env}
            os.environ.update(env)
            try:
                value = node.step.fn(*args, **kwargs)
            finally:
                for k, old in saved.items():
                    if old is None:
                        os.environ.pop(k, None)
                    else:
                        os.environ[k] = old
            data = cloudpickle.dumps(value, protocol=5)
        else:
            call_env = {**env, **_store_env(client), **_token_env()}
            payload = pack(node.step.fn, args, kwargs, call_env, same_machine=ray is None or ray.same_machine)
            if ray is None:
                attempt, data = _run_in_process_pool(payload)
            else:
                attempt, data = ray(payload, name=f"{self.name}.{node.name}", resources=node.step.resources)
            value = cloudpickle.loads(data)
        digest, _ = client.blobs.put_bytes(data)
        results[id(node)] = (digest, value)
        if node.step.cache:
            store.cache(cache_key, node.step.name, digest)
        links = _links(client, run_id, node.name, value, attempt)
        recorded = {**links, "after": _after(node)}  # the DAG's edges, for the UI
        store.record_step(StepRunRow(run_id, node.name, cache_key, "ran", digest, began, now_ms(), recorded))
        return StepResult(node.name, "ran", cache_key, digest, time.perf_counter() - clock, links)


@overload
def pipeline(fn: Callable[..., Any], *, name: str | None = None) -> Pipeline: ...


@overload
def pipeline(fn: None = None, *, name: str | None = None) -> Callable[[Callable[..., Any]], Pipeline]: ...


def pipeline(
    fn: Callable[..., Any] | None = None, *, name: str | None = None
) -> Pipeline | Callable[[Callable[..., Any]], Pipeline]:
    """Make a function a pipeline (``@pipeline`` or ``@pipeline(name=...)``)."""
    if fn is None:
        return lambda f: Pipeline(f, name=name)
    return Pipeline(fn, name=name)


def _store_env(client: Client) -> dict[str, str]:
    from modelyard.core.settings import home_dir

    return {
        "MODELYARD_HOME": str(home_dir()),
        "MODELYARD_TRACKING_URI": client._location.metadata_url,
        "MODELYARD_ARTIFACT_URI": client.artifact_uri,
    }


def _token_env() -> dict[str, str]:
    """The team server's token, for the step's own clients: inside the call, never in a Ray
    job's runtime environment (which the cluster's dashboard shows)."""
    token = os.environ.get("MODELYARD_TRACKING_TOKEN")
    return {"MODELYARD_TRACKING_TOKEN": token} if token else {}


def _run_in_process_pool(payload: bytes) -> tuple[str, bytes]:
    """The process engine: the step in a fresh (spawned) process."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        return pool.submit(run_payload, payload).result()


def _links(client: Client, run_id: str, step_name: str, value: Any, attempt: str) -> dict[str, Any]:
    """What a step produced: the tracking runs its kept attempt started (tagged with this
    pipeline run, step and attempt), the model versions registered from them or returned, and
    datasets returned. Runs an earlier attempt left running (its worker or node died, or its
    runner's lease was taken over) are ended as KILLED: they are not the step's result."""
    links: dict[str, Any] = {}
    tagged = client.search_runs(
        [e.experiment_id for e in client.search_experiments()],
        f"tags.`modelyard.pipeline_run` = '{run_id}' and tags.`modelyard.pipeline_step` = '{step_name}'",
    )
    runs = [r.info.run_id for r in tagged if r.data.tags.get(ATTEMPT_TAG) == attempt]
    for r in tagged:
        if r.data.tags.get(ATTEMPT_TAG) != attempt and r.info.status == RunStatus.RUNNING:
            client.set_terminated(r.info.run_id, RunStatus.KILLED)
    if runs:
        links["runs"] = runs
    found = client.search_model_versions("run_id IN (" + ", ".join(f"'{r}'" for r in runs) + ")") if runs else []
    versions = [v.uri for v in sorted(found, key=lambda v: runs.index(v.run_id or ""))]  # stable: by run, then as listed
    items = value if isinstance(value, list | tuple) else [value]
    versions += [v.uri for v in items if isinstance(v, ModelVersion) and v.uri not in versions]
    if versions:
        links["model_versions"] = versions
    datasets = [f"datasets:/{d.name}/{d.digest[:12]}" for d in items if isinstance(d, DatasetVersion)]
    if datasets:
        links["datasets"] = datasets
    return links


class _Heartbeat:
    """Renews a run's lease from a thread while its steps run."""

    def __init__(self, renew: Callable[[], bool], every: float) -> None:
        self._renew = renew
        self._every = max(every, 0.05)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="modelyard-lease", daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(self._every):
            try:
                self._renew()
            except Exception:  # a missed renewal is retried; expiry is the safety net
                continue

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
