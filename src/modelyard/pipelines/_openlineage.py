"""OpenLineage events of one pipeline run: the pipeline is a job, each step a child job.

Built with ``modelyard.tracking._openlineage`` and sent only when ``MODELYARD_OPENLINEAGE_URL``
is set; nothing here raises into the run (see that module).
"""

from __future__ import annotations

import logging
from typing import Any

from modelyard.registry import Client
from modelyard.tracking import _openlineage as ol

log = logging.getLogger("modelyard.openlineage")


class PipelineLineage:
    """Sends START/COMPLETE/FAIL for a pipeline run and its steps; a no-op when unconfigured."""

    def __init__(self, client: Client, run_id: str, pipeline: str) -> None:
        self._sink = ol.emitter()
        self._client = client
        self._run = ol.ol_run_id(run_id)
        self._pipeline = pipeline
        self._inputs: dict[tuple[str, str], ol.LineageDataset] = {}
        self._outputs: dict[tuple[str, str], ol.LineageDataset] = {}

    def _emit(self, event_type: ol.EventType, **kwargs: Any) -> None:
        if self._sink is None:
            return
        sink = self._sink
        try:
            sink.emit(ol.run_event(event_type, namespace=sink.namespace, **kwargs))
        except Exception as error:  # lineage never fails the run
            sink.failed += 1
            log.warning("OpenLineage %s event of pipeline %s not built: %s", event_type, self._pipeline, error)

    def started(self) -> None:
        self._emit("START", run_id=self._run, job=self._pipeline)

    def step_started(self, step: str) -> None:
        self._emit("START", run_id=ol.child_run_id(self._run, step), job=f"{self._pipeline}.{step}", parent=(self._run, self._pipeline))

    def step_ended(self, step: str, links: dict[str, Any] | None, error: BaseException | None = None) -> None:
        if self._sink is None:
            return
        inputs: list[ol.LineageDataset] = []
        outputs: list[ol.LineageDataset] = []
        try:
            for run_id in (links or {}).get("runs", []):
                run = self._client.get_run(run_id)
                inputs += ol.dataset_inputs(run.inputs)
                service = run.data.tags.get("modelyard.feature_service")
                if service:
                    inputs.append(ol.LineageDataset("modelyard.features", service))
            outputs += ol.model_outputs((links or {}).get("model_versions", []))
            outputs += [ol.LineageDataset("modelyard.datasets", d.removeprefix("datasets:/").replace("/", "@", 1)) for d in (links or {}).get("datasets", [])]
        except Exception as problem:  # a link that cannot be read: the event goes out without it
            log.warning("OpenLineage: the datasets of step %s not read: %s", step, problem)
        for d in inputs:
            self._inputs.setdefault((d.namespace, d.name), d)
        for d in outputs:
            self._outputs.setdefault((d.namespace, d.name), d)
        self._emit(
            "FAIL" if error is not None else "COMPLETE",
            run_id=ol.child_run_id(self._run, step),
            job=f"{self._pipeline}.{step}",
            parent=(self._run, self._pipeline),
            inputs=inputs,
            outputs=outputs,
            error=None if error is None else f"{type(error).__name__}: {error}",
        )

    def ended(self, error: BaseException | None = None) -> None:
        self._emit(
            "FAIL" if error is not None else "COMPLETE",
            run_id=self._run,
            job=self._pipeline,
            inputs=list(self._inputs.values()),
            outputs=list(self._outputs.values()),
            error=None if error is None else f"{type(error).__name__}: {error}",
        )
