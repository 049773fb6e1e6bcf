"""OpenLineage RunEvents from real pipeline runs and training runs, caught by a real HTTP
receiver and validated against the OpenLineage JSON schema (shipped in schemas/)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

import modelyard
from modelyard.pipelines import pipeline, step
from modelyard.tracking import _openlineage as ol

from .receiver import closed_port_url, receiver

SCHEMAS = Path(__file__).parent / "schemas"
_resources = {p.name: json.loads(p.read_text()) for p in SCHEMAS.glob("*.json")}
_registry: Registry[Any] = Registry().with_resources(
    (schema["$id"], Resource.from_contents(schema)) for schema in _resources.values()
)
_core = _resources["OpenLineage.json"]


def _validator(schema_file: str, definition: str) -> Draft202012Validator:
    ref = {"$ref": f"{_resources[schema_file]['$id']}#/$defs/{definition}"}
    return Draft202012Validator(ref, registry=_registry, format_checker=Draft202012Validator.FORMAT_CHECKER)


RUN_EVENT = _validator("OpenLineage.json", "RunEvent")
PARENT = _validator("ParentRunFacet.json", "ParentRunFacet")
ERROR = _validator("ErrorMessageRunFacet.json", "ErrorMessageRunFacet")


def valid(event: dict[str, Any]) -> dict[str, Any]:
    RUN_EVENT.validate(event)
    facets = event["run"].get("facets", {})
    if "parent" in facets:
        PARENT.validate(facets["parent"])
    if "errorMessage" in facets:
        ERROR.validate(facets["errorMessage"])
    return event


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    uri = str(tmp_path / "store")
    monkeypatch.setenv("MODELYARD_TRACKING_URI", uri)
    modelyard.set_tracking_uri(uri)
    return uri


def frame() -> pd.DataFrame:
    return pd.DataFrame({"x1": [0.0, 1.0, 2.0, 3.0] * 5, "x2": [1.0, 0.0, 1.0, 0.0] * 5, "y": [0, 1] * 10})


@step
def load(rows: int) -> pd.DataFrame:
    return frame().head(rows)


@step
def train(data: pd.DataFrame) -> str:
    from sklearn.linear_model import LogisticRegression

    with modelyard.start_run(run_name="train"):
        modelyard.log_input(modelyard.data.from_pandas(data, name="credit"))
        model = LogisticRegression().fit(data[["x1", "x2"]], data["y"])
        version = modelyard.registry.log_model(model, "model", registered_model_name="ol-toy")
    return version.model_version.uri


@step
def explode(uri: str) -> str:
    raise RuntimeError(f"no promotion for {uri}")


@pipeline
def lineage_ok(rows: int = 20) -> str:
    return train(load(rows))


@pipeline
def lineage_broken(rows: int = 20) -> str:
    return explode(train(load(rows)))


def _by(events: list[dict[str, Any]], job: str) -> list[str]:
    return [e["eventType"] for e in events if e["job"]["name"] == job]


def test_a_pipeline_run_sends_valid_events_for_itself_and_its_steps(store: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with receiver() as got:
        monkeypatch.setenv("MODELYARD_OPENLINEAGE_URL", got.url)
        monkeypatch.setenv("MODELYARD_OPENLINEAGE_NAMESPACE", "team-a")
        result = lineage_ok.run()
        # pipeline START/COMPLETE, two steps START/COMPLETE, the training run START/COMPLETE
        events = [valid(r.json()) for r in got.wait_for(8)]
    assert {e["job"]["namespace"] for e in events} == {"team-a"}
    assert _by(events, "lineage_ok") == ["START", "COMPLETE"]
    assert _by(events, "lineage_ok.load") == ["START", "COMPLETE"]
    assert _by(events, "lineage_ok.train") == ["START", "COMPLETE"]
    assert _by(events, "Default") == ["START", "COMPLETE"]  # the training run, a job per experiment
    parent_run = str(__import__("uuid").UUID(hex=result.run_id))
    step_done = next(e for e in events if e["job"]["name"] == "lineage_ok.train" and e["eventType"] == "COMPLETE")
    assert step_done["run"]["facets"]["parent"]["run"]["runId"] == parent_run
    assert step_done["run"]["facets"]["parent"]["job"] == {"namespace": "team-a", "name": "lineage_ok"}
    assert [d["namespace"] for d in step_done["inputs"]] == ["modelyard.datasets"]
    assert step_done["inputs"][0]["name"].startswith("credit@")
    assert step_done["outputs"] == [{"namespace": "modelyard.models", "name": "ol-toy/1"}]
    done = next(e for e in events if e["job"]["name"] == "lineage_ok" and e["eventType"] == "COMPLETE")
    assert done["run"]["runId"] == parent_run
    assert done["inputs"] == step_done["inputs"] and done["outputs"] == step_done["outputs"]
    training = [e for e in events if e["job"]["name"] == "Default"]
    assert training[0]["run"]["facets"]["parent"] == {  # the training run is a child of its step
        **training[0]["run"]["facets"]["parent"],
        "run": {"runId": step_done["run"]["runId"]},
        "job": {"namespace": "team-a", "name": "lineage_ok.train"},
    }
    assert training[1]["outputs"] == step_done["outputs"] and training[1]["inputs"] == step_done["inputs"]
    assert {f["name"] for f in training[1]["inputs"][0]["facets"]["schema"]["fields"]} == {"x1", "x2", "y"}


def test_steps_in_worker_processes_send_their_training_runs_events(store: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with receiver() as got:
        monkeypatch.setenv("MODELYARD_OPENLINEAGE_URL", got.url)
        lineage_ok.run(engine="process")
        events = [valid(r.json()) for r in got.wait_for(8)]
    assert _by(events, "Default") == ["START", "COMPLETE"]  # sent from the step's worker before it ended
    assert _by(events, "lineage_ok") == ["START", "COMPLETE"]


def test_a_failing_step_sends_fail_for_the_step_and_the_pipeline(store: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with receiver() as got:
        monkeypatch.setenv("MODELYARD_OPENLINEAGE_URL", got.url)
        with pytest.raises(RuntimeError, match="no promotion"):
            lineage_broken.run()
        events = [valid(r.json()) for r in got.wait_for(10)]
    assert _by(events, "lineage_broken") == ["START", "FAIL"]
    assert _by(events, "lineage_broken.explode") == ["START", "FAIL"]
    assert _by(events, "lineage_broken.train") == ["START", "COMPLETE"]
    failed = next(e for e in events if e["job"]["name"] == "lineage_broken" and e["eventType"] == "FAIL")
    assert failed["run"]["facets"]["errorMessage"]["message"] == "RuntimeError: no promotion for models:/ol-toy/1"
    assert failed["outputs"] == [{"namespace": "modelyard.models", "name": "ol-toy/1"}]  # what the run made before it failed


def test_a_training_run_that_fails_sends_fail(store: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with receiver() as got:
        monkeypatch.setenv("MODELYARD_OPENLINEAGE_URL", got.url)
        modelyard.set_experiment("churn")
        with pytest.raises(ValueError, match="bad"), modelyard.start_run():
            raise ValueError("bad")
        events = [valid(r.json()) for r in got.wait_for(2)]
    assert [(e["job"]["name"], e["eventType"]) for e in events] == [("churn", "START"), ("churn", "FAIL")]
    assert events[0]["run"]["runId"] == events[1]["run"]["runId"]


def test_an_unreachable_endpoint_is_counted_and_never_fails_the_run(store: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELYARD_OPENLINEAGE_URL", closed_port_url())
    result = lineage_ok.run()
    assert result.status == "succeeded"
    sink = ol.emitter()
    assert sink is not None and sink.flush()
    assert sink.failed == 8 and sink.sent == 0


def test_an_endpoint_answering_errors_is_counted(store: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with receiver(statuses=[503, 400]) as got:
        monkeypatch.setenv("MODELYARD_OPENLINEAGE_URL", got.url)
        modelyard.set_experiment("counted")
        with modelyard.start_run():
            pass
        sink = ol.emitter()
        assert sink is not None and sink.flush()
        got.wait_for(2)
    assert (sink.sent, sink.failed) == (0, 2)


def test_nothing_is_sent_when_no_endpoint_is_set(store: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MODELYARD_OPENLINEAGE_URL", raising=False)
    assert ol.emitter() is None
    assert lineage_ok.run().status == "succeeded"
