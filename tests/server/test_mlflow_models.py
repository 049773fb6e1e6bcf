"""The stock ``mlflow`` client's model life against a live ``modelyard server``: sklearn
autolog, ``log_model``, ``register_model``, an alias, and ``load_model("models:/x@champion")``
predicting what the fitted model predicts."""

from __future__ import annotations

from pathlib import Path

import modelyard

from .conftest import Live
from .mlflow_process import run_mlflow

MODEL_LIFE = """
import json
import numpy as np
import mlflow
from mlflow import MlflowClient
from sklearn.linear_model import LinearRegression

X = np.arange(40, dtype=float).reshape(20, 2)
y = X @ np.array([1.0, 2.0]) + 3.0
mlflow.set_experiment("models")
mlflow.sklearn.autolog()
with mlflow.start_run() as fit_run:
    model = LinearRegression().fit(X, y)
mlflow.sklearn.autolog(disable=True)
fitted = MlflowClient().get_run(fit_run.info.run_id)
autologged = mlflow.last_logged_model()

with mlflow.start_run() as run:
    info = mlflow.sklearn.log_model(model, name="model", input_example=X[:2])
version = mlflow.register_model(info.model_uri, "credit")
client = MlflowClient()
client.set_registered_model_alias("credit", "champion", version.version)
champion = mlflow.pyfunc.load_model("models:/credit@champion")
again = mlflow.register_model(f"runs:/{run.info.run_id}/model", "credit")
client.set_model_version_tag("credit", again.version, "validated", "yes")
client.update_model_version("credit", again.version, description="second")
by_run = mlflow.sklearn.load_model(f"runs:/{run.info.run_id}/model")
print(json.dumps({
    "autolog_params": sorted(fitted.data.params),
    "autolog_metrics": sorted(fitted.data.metrics),
    "autolog_model": [autologged.source_run_id == fit_run.info.run_id, autologged.status.name],
    "run_id": run.info.run_id,
    "model_uri": info.model_uri,
    "version": version.version,
    "same": bool(np.allclose(champion.predict(X), model.predict(X))),
    "by_run": bool(np.allclose(by_run.predict(X), model.predict(X))),
    "alias": client.get_model_version_by_alias("credit", "champion").version,
    "again": again.version,
    "models": [m.name for m in client.search_registered_models()],
    "versions": sorted(v.version for v in client.search_model_versions("name = 'credit'")),
    "tags": client.get_model_version("credit", again.version).tags,
    "description": client.get_model_version("credit", again.version).description,
    "latest": [v.version for v in client.get_latest_versions("credit")],
}))
"""


def test_autolog_log_model_register_alias_and_load(open_server: Live, tmp_path: Path) -> None:
    out = run_mlflow(MODEL_LIFE, open_server.url, tmp_path / "mlflow")

    assert {"fit_intercept", "copy_X"} <= set(out["autolog_params"])
    assert "training_r2_score" in out["autolog_metrics"]
    assert out["autolog_model"] == [True, "READY"]
    assert out["model_uri"].startswith("models:/m-")
    assert out["version"] == "1" and out["again"] == "2"
    assert out["same"] and out["by_run"]
    assert out["alias"] == "1"
    assert out["models"] == ["credit"] and out["versions"] == ["1", "2"]
    assert out["tags"] == {"validated": "yes"} and out["description"] == "second"
    assert out["latest"] == ["2"]

    # the registry is modelyard's: the versions, the alias and the audit are there
    ours = modelyard.Client(open_server.store_url, artifact_uri=open_server.artifacts)
    version = ours.get_model_version("credit", 1)
    assert version.run_id == out["run_id"] and version.flavor == "mlflow"
    assert "MLmodel" in version.files and "model.skops" in version.files
    assert ours.get_registered_model("credit").aliases == {"champion": 1}
    # the model folder is also a run artifact, where modelyard's client finds it
    assert b"sklearn" in ours.read_artifact(out["run_id"], "model/MLmodel")
