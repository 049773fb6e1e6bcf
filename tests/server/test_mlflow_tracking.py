"""The stock ``mlflow`` client (a subprocess, MLFLOW_TRACKING_URI set) tracking against a live
``modelyard server``: the quickstart, log_batch, search, histories, artifacts, and runs shared
with modelyard's own client on the same store."""

from __future__ import annotations

from pathlib import Path

import modelyard

from .conftest import Live
from .mlflow_process import run_mlflow

QUICKSTART = """
import json, os
import mlflow
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag

mlflow.set_experiment("quickstart")
with mlflow.start_run(run_name="first") as run:
    mlflow.log_param("alpha", 0.5)
    mlflow.log_params({"l1_ratio": 0.1, "solver": "saga"})
    mlflow.log_metric("rmse", 0.7)
    mlflow.log_metric("diverged", float("nan"))
    for step in range(3):
        mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
    mlflow.set_tag("team", "risk")
    mlflow.set_tags({"stage": "dev", "temp": "x"})
    MlflowClient().delete_tag(run.info.run_id, "temp")
    with open("note.txt", "w") as f:
        f.write("hello from mlflow")
    mlflow.log_artifact("note.txt", artifact_path="notes")
    mlflow.log_dict({"k": 1}, "config/params.json")
with mlflow.start_run(run_name="second") as other:
    mlflow.log_metric("rmse", 1.5)

client = MlflowClient()
batch = client.create_run(run.info.experiment_id, run_name="batched")
client.log_batch(
    batch.info.run_id,
    metrics=[Metric("acc", 0.5 + i / 100, 1_000 + i, i) for i in range(50)],
    params=[Param("model", "gbm")],
    tags=[RunTag("kind", "batch")],
)
client.set_terminated(batch.info.run_id)

got = client.get_run(run.info.run_id)
found = mlflow.search_runs(
    experiment_names=["quickstart"], filter_string="metrics.rmse < 1", output_format="list"
)
ordered = client.search_runs(
    [run.info.experiment_id], order_by=["metrics.rmse DESC"], max_results=2
)
history = client.get_metric_history(run.info.run_id, "loss")
batch_history = client.get_metric_history(batch.info.run_id, "acc")
arts = client.list_artifacts(run.info.run_id)
inner = client.list_artifacts(run.info.run_id, "notes")
local = mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="notes/note.txt")
theirs = client.get_run(os.environ["THEIR_RUN"])
exp = client.get_experiment_by_name("quickstart")
client.set_experiment_tag(exp.experiment_id, "owner", "ana")
missing = None
try:
    client.get_run("0" * 32)
except mlflow.exceptions.MlflowException as error:
    missing = error.error_code
print(json.dumps({
    "run_id": run.info.run_id,
    "experiment_id": run.info.experiment_id,
    "status": got.info.status,
    "name": got.info.run_name,
    "params": got.data.params,
    "metrics": {k: v for k, v in got.data.metrics.items() if k != "diverged"},
    "nan": [str(m.value) for m in client.get_metric_history(run.info.run_id, "diverged")],
    "tags": {k: v for k, v in got.data.tags.items() if not k.startswith("mlflow.")},
    "found": [r.info.run_id for r in found],
    "ordered": [r.info.run_name for r in ordered],
    "history": [[m.step, m.value] for m in history],
    "batch_points": len(batch_history),
    "batch_params": client.get_run(batch.info.run_id).data.params,
    "artifacts": sorted((a.path, a.is_dir) for a in arts),
    "inner": [a.path for a in inner],
    "note": open(local).read(),
    "theirs": [theirs.data.params, theirs.data.metrics, theirs.info.status],
    "exp_tags": client.get_experiment(exp.experiment_id).tags,
    "missing": missing,
}))
"""


def test_quickstart_with_the_stock_mlflow_client(open_server: Live, tmp_path: Path) -> None:
    ours = modelyard.Client(open_server.store_url, artifact_uri=open_server.artifacts)
    theirs = ours.create_run(ours.create_experiment("from-modelyard"))
    ours.log_param(theirs.info.run_id, "depth", 4)
    ours.log_metric(theirs.info.run_id, "auc", 0.91)
    ours.set_terminated(theirs.info.run_id)

    out = run_mlflow(
        QUICKSTART, open_server.url, tmp_path / "mlflow", env={"THEIR_RUN": theirs.info.run_id}
    )

    assert out["status"] == "FINISHED" and out["name"] == "first"
    assert out["params"] == {"alpha": "0.5", "l1_ratio": "0.1", "solver": "saga"}
    assert out["metrics"] == {"rmse": 0.7, "loss": 1.0 / 3}
    assert out["nan"] == ["nan"]
    assert out["tags"] == {"team": "risk", "stage": "dev"}
    assert out["found"] == [out["run_id"]]
    assert out["ordered"] == ["second", "first"]
    assert out["history"] == [[0, 1.0], [1, 0.5], [2, 1.0 / 3]]
    assert out["batch_points"] == 50 and out["batch_params"] == {"model": "gbm"}
    assert out["artifacts"] == [["config", True], ["notes", True]]
    assert out["inner"] == ["notes/note.txt"]
    assert out["note"] == "hello from mlflow"
    assert out["theirs"] == [{"depth": "4"}, {"auc": 0.91}, "FINISHED"]
    assert out["exp_tags"] == {"owner": "ana"}
    assert out["missing"] == "RESOURCE_DOES_NOT_EXIST"

    # what MLflow logged is modelyard's: same ids, same store, same artifacts
    run = ours.get_run(out["run_id"])
    assert run.info.experiment_id == out["experiment_id"]
    assert run.data.params["alpha"] == "0.5" and run.data.tags["team"] == "risk"
    assert [m.value for m in ours.get_metric_history(out["run_id"], "loss")] == [1.0, 0.5, 1.0 / 3]
    assert ours.read_artifact(out["run_id"], "notes/note.txt") == b"hello from mlflow"
    found = ours.search_runs([out["experiment_id"]], "params.alpha = '0.5'")
    assert [r.info.run_id for r in found] == [out["run_id"]]
