"""OpenLineage RunEvents for training runs and pipeline runs, sent to an HTTP endpoint.

MODELYARD_OPENLINEAGE_URL        where events are POSTed (e.g. ``http://marquez:5000/api/v1/lineage``);
                                 unset: nothing is built or sent
MODELYARD_OPENLINEAGE_NAMESPACE  the jobs' namespace (default: ``modelyard``)

A run sends START when it begins and COMPLETE, FAIL or ABORT when it ends, with its inputs
(the dataset versions it logged, its feature service) and outputs (the model versions
registered from it). A pipeline run is a job named after the pipeline; each step is a child
job ``<pipeline>.<step>`` whose events carry the ``parent`` facet.

Sending never fails the caller: events go through a queue to one daemon thread, and a
refused or failed POST is logged and counted (``emitter().failed``), never raised.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import queue
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from modelyard.core.entities import DatasetInput

log = logging.getLogger("modelyard.openlineage")

EventType = Literal["START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"]
SCHEMA_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
PARENT_FACET_URL = "https://openlineage.io/spec/facets/1-2-0/ParentRunFacet.json#/$defs/ParentRunFacet"
ERROR_FACET_URL = "https://openlineage.io/spec/facets/1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet"
PRODUCER = "https://pypi.org/project/modelyard/"
DEFAULT_NAMESPACE = "modelyard"


@dataclass(frozen=True, slots=True)
class LineageDataset:
    """An OpenLineage dataset: a namespace (``modelyard.datasets``, ``modelyard.models``...)
    and a name unique in it."""

    namespace: str
    name: str
    facets: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"namespace": self.namespace, "name": self.name}
        if self.facets:
            out["facets"] = self.facets
        return out


def ol_run_id(run_id: str) -> str:
    """Our 32-hex run ids as the UUID text OpenLineage wants; other ids map to a stable UUID5."""
    try:
        return str(uuid.UUID(hex=run_id))
    except ValueError:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"modelyard:{run_id}"))


def child_run_id(parent_run_id: str, name: str) -> str:
    """A stable OpenLineage run id for step ``name`` of run ``parent_run_id``."""
    return str(uuid.uuid5(uuid.UUID(ol_run_id(parent_run_id)), name))


def _facet(url: str, **fields: Any) -> dict[str, Any]:
    return {"_producer": PRODUCER, "_schemaURL": url, **fields}


def dataset_inputs(inputs: Iterable[DatasetInput]) -> list[LineageDataset]:
    """The dataset versions a run logged, as OpenLineage input datasets."""
    return [
        LineageDataset(
            "modelyard.datasets",
            f"{d.name}@{d.digest[:12]}",
            {
                "schema": _facet(
                    "https://openlineage.io/spec/facets/1-1-1/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet",
                    fields=[{"name": k, "type": t} for k, t in d.schema.items()],
                )
            }
            if d.schema
            else {},
        )
        for d in inputs
    ]


def model_outputs(uris: Iterable[str]) -> list[LineageDataset]:
    """Model versions (``models:/name/3``) as OpenLineage output datasets."""
    return [LineageDataset("modelyard.models", uri.removeprefix("models:/")) for uri in uris]


def run_event(
    event_type: EventType,
    *,
    run_id: str,
    job: str,
    namespace: str,
    event_time: datetime | None = None,
    inputs: Iterable[LineageDataset] = (),
    outputs: Iterable[LineageDataset] = (),
    parent: tuple[str, str] | None = None,
    error: str | None = None,
) -> dict[str, Any]:
    """One RunEvent as JSON-ready data. ``run_id`` is already OpenLineage's (a UUID);
    ``parent`` is (parent run id, parent job name) for a child job."""
    facets: dict[str, Any] = {}
    if parent is not None:
        facets["parent"] = _facet(
            PARENT_FACET_URL,
            run={"runId": parent[0]},
            job={"namespace": namespace, "name": parent[1]},
        )
    if error is not None:
        facets["errorMessage"] = _facet(ERROR_FACET_URL, message=error[:2000], programmingLanguage="PYTHON")
    when = event_time or datetime.now(UTC)
    return {
        "eventType": event_type,
        "eventTime": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "producer": PRODUCER,
        "schemaURL": SCHEMA_URL,
        "run": {"runId": run_id, "facets": facets},
        "job": {"namespace": namespace, "name": job},
        "inputs": [d.as_json() for d in inputs],
        "outputs": [d.as_json() for d in outputs],
    }


class Emitter:
    """POSTs events to ``url`` from one daemon thread; counts what was sent and what failed."""

    def __init__(self, url: str, *, namespace: str = DEFAULT_NAMESPACE, timeout: float = 5.0) -> None:
        self.url = url
        self.namespace = namespace
        self.timeout = timeout
        self.sent = 0
        self.failed = 0
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def emit(self, event: Mapping[str, Any]) -> None:
        """Queue ``event``; returns at once and never raises for a failed delivery."""
        self._start()
        self._queue.put(dict(event))

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="modelyard-openlineage", daemon=True)
                self._thread.start()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued event was sent or given up; False if ``timeout`` passed first."""
        done = threading.Event()
        self._start()
        self._queue.put({"__flush__": done})
        return done.wait(timeout)

    def _loop(self) -> None:
        while True:
            event = self._queue.get()
            if event is None:
                return
            marker = event.get("__flush__")
            if isinstance(marker, threading.Event):
                marker.set()
                continue
            self._send(event)

    def _send(self, event: dict[str, Any]) -> None:
        body = json.dumps(event).encode()
        request = urllib.request.Request(self.url, data=body, method="POST", headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
            self.sent += 1
        except Exception as error:  # never the caller's problem: logged and counted
            if isinstance(error, urllib.error.HTTPError):
                error.close()
            self.failed += 1
            log.warning("OpenLineage event for job %s not sent to %s: %s", event.get("job", {}).get("name"), self.url, error)


_emitters: dict[tuple[str, str], Emitter] = {}
_emitters_lock = threading.Lock()


def emitter() -> Emitter | None:
    """The emitter for ``$MODELYARD_OPENLINEAGE_URL`` (one per URL and namespace), or None when unset."""
    url = os.environ.get("MODELYARD_OPENLINEAGE_URL", "").strip()
    if not url:
        return None
    namespace = os.environ.get("MODELYARD_OPENLINEAGE_NAMESPACE", "").strip() or DEFAULT_NAMESPACE
    with _emitters_lock:
        found = _emitters.get((url, namespace))
        if found is None:
            found = _emitters[(url, namespace)] = Emitter(url, namespace=namespace)
        return found


@atexit.register
def flush_all(timeout: float = 5.0) -> None:
    """Wait for every emitter's queued events (at exit; and where a process ends without
    atexit, as a pipeline step's worker does)."""
    for each in list(_emitters.values()):
        each.flush(timeout=timeout)


def _safely(what: str, build: Callable[[], dict[str, Any]], sink: Emitter) -> None:
    try:
        sink.emit(build())
    except Exception as error:  # building an event must not fail the run either
        sink.failed += 1
        log.warning("OpenLineage %s event not built: %s", what, error)


PIPELINE_NAME_ENV = "MODELYARD_PIPELINE_NAME"  # set by a pipeline while its step runs


def step_parent(tags: Mapping[str, str]) -> tuple[str, str] | None:
    """The pipeline step a run was started in, as (its OpenLineage run id, its job name)."""
    run, step, pipeline = tags.get("modelyard.pipeline_run"), tags.get("modelyard.pipeline_step"), os.environ.get(PIPELINE_NAME_ENV)
    if run and step and pipeline:
        return child_run_id(run, step), f"{pipeline}.{step}"
    return None


def training_run_started(run_id: str, job: str, parent: tuple[str, str] | None = None) -> None:
    """START for a training run (``job``: its experiment's name; ``parent``: the pipeline step
    it runs in); nothing when unconfigured."""
    sink = emitter()
    if sink is not None:
        _safely("START", lambda: run_event("START", run_id=ol_run_id(run_id), job=job, namespace=sink.namespace, parent=parent), sink)


def training_run_ended(
    run_id: str,
    status: str,
    job: Callable[[], str],
    inputs: Callable[[], list[LineageDataset]],
    outputs: Callable[[], list[LineageDataset]],
    parent: tuple[str, str] | None = None,
) -> None:
    """COMPLETE (FINISHED), FAIL (FAILED) or ABORT (KILLED) with the run's inputs and outputs,
    which are read only when an endpoint is configured."""
    sink = emitter()
    if sink is None:
        return
    kind: EventType = {"FINISHED": "COMPLETE", "FAILED": "FAIL"}.get(status, "ABORT")  # type: ignore[assignment]
    _safely(
        kind,
        lambda: run_event(
            kind, run_id=ol_run_id(run_id), job=job(), namespace=sink.namespace, inputs=inputs(), outputs=outputs(), parent=parent
        ),
        sink,
    )
