"""``modelyard models export ... --format mlflow``: folders the real MLflow loads
(``mlflow.pyfunc.load_model`` and each flavor's ``load_model``) and that predict what the
registered model predicts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import lightgbm
import numpy as np
import pandas as pd
import pytest
import xgboost
import yaml
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from typer.testing import CliRunner

import modelyard as my
from modelyard.cli import app

# Runs in a fresh interpreter: MLflow loads the folder and writes what it predicts.
MLFLOW_LOAD = """
import json, sys, warnings
warnings.simplefilter("ignore")
import mlflow.pyfunc, numpy as np, pandas as pd
folder, data_file, flavor = sys.argv[1:4]
data = pd.read_json(data_file, orient="split")
model = mlflow.pyfunc.load_model(folder)
given = data.to_numpy() if model.metadata.get_input_schema().is_tensor_spec() else data
out = {"pyfunc": np.asarray(model.predict(given)).tolist(),
       "input_names": model.metadata.get_input_schema().input_names()
       if not model.metadata.get_input_schema().is_tensor_spec() else None}
if flavor != "none":
    native = getattr(__import__(f"mlflow.{flavor}", fromlist=["load_model"]), "load_model")(folder)
    out["native_class"] = f"{type(native).__module__}.{type(native).__qualname__}"
print(json.dumps(out))
"""


class Doubler(my.PythonModel):
    def predict(self, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> Any:
        return model_input["mean radius"].to_numpy() * 2


@pytest.fixture
def data() -> tuple[pd.DataFrame, pd.Series]:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    return X, y


def _mlflow_predict(folder: Path, frame: pd.DataFrame, flavor: str, tmp_path: Path) -> dict[str, Any]:
    data_file = tmp_path / f"{folder.name}-input.json"
    frame.to_json(data_file, orient="split", index=False)
    env = {
        **os.environ,
        "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "true",
        "PYTHONPATH": str(Path(__file__).parents[2]),  # the custom model's class is in tests/
    }
    done = subprocess.run(
        [sys.executable, "-c", MLFLOW_LOAD, str(folder), str(data_file), flavor],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _build(kind: str, X: pd.DataFrame, y: pd.Series) -> Any:
    return {
        "sklearn": lambda: make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y),
        "sklearn-array": lambda: make_pipeline(StandardScaler(), LogisticRegression()).fit(
            X.to_numpy(), y
        ),
        "lightgbm-booster": lambda: lightgbm.train(
            {"objective": "binary", "verbose": -1, "num_threads": 1}, lightgbm.Dataset(X, y), 20
        ),
        "lightgbm": lambda: lightgbm.LGBMClassifier(n_estimators=20, verbose=-1, n_jobs=1).fit(X, y),
        "xgboost-booster": lambda: xgboost.train(
            {"objective": "binary:logistic", "nthread": 1}, xgboost.DMatrix(X, y), 20
        ),
        "xgboost": lambda: xgboost.XGBClassifier(n_estimators=20, max_depth=3, n_jobs=1).fit(X, y),
        "python": lambda: Doubler(),
    }[kind]()


# kind -> (MLflow module whose load_model gives the native object, its class)
CASES = {
    "sklearn": ("sklearn", "sklearn.pipeline.Pipeline"),
    "sklearn-array": ("sklearn", "sklearn.pipeline.Pipeline"),
    "lightgbm-booster": ("lightgbm", "lightgbm.basic.Booster"),
    "lightgbm": ("lightgbm", "lightgbm.sklearn.LGBMClassifier"),
    "xgboost-booster": ("xgboost", "xgboost.core.Booster"),
    "xgboost": ("xgboost", "xgboost.sklearn.XGBClassifier"),
    "python": ("none", None),
}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_exported_folders_load_and_predict_identically_in_mlflow(
    kind: str, client: my.Client, data: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    X, y = data
    model = _build(kind, X, y)
    example = X.head(5).to_numpy() if kind == "sklearn-array" else X.head(5)
    version = client.register_model("exported", model, input_example=example)
    folder = tmp_path / f"mlflow-{kind}"
    my.registry.export_model(client, f"models:/exported/{version.version}", folder)

    mlmodel = yaml.safe_load((folder / "MLmodel").read_text())
    assert "python_function" in mlmodel["flavors"]
    assert mlmodel["metadata"]["modelyard_uri"] == "models:/exported/1"
    assert mlmodel["saved_input_example_info"]["artifact_path"] == "input_example.json"
    assert (folder / "requirements.txt").read_text().startswith("mlflow\n")

    flavor, native_class = CASES[kind]
    got = _mlflow_predict(folder, X.head(60), flavor, tmp_path)
    ours = client.load_model(version.uri)
    given = X.head(60).to_numpy() if kind == "sklearn-array" else X.head(60)
    assert np.array_equal(np.asarray(got["pyfunc"]), np.asarray(ours.predict(given)))
    if kind != "sklearn-array":
        assert got["input_names"] == list(X.columns)
    if native_class is not None:
        assert got["native_class"] == native_class


def test_the_bundle_format_is_the_verified_bundle(
    client: my.Client, data: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    X, y = data
    version = client.register_model("b", _build("sklearn", X, y), input_example=X.head(2))
    folder = my.registry.export_model(client, "models:/b/1", tmp_path / "b", "bundle")
    assert (folder / "modelyard.yaml").is_file()
    again = my.load_model(folder, trusted=True)
    assert np.array_equal(again.predict(X), client.load_model(version.uri).predict(X))


def test_export_refuses_what_it_cannot_do_and_leaves_nothing(
    client: my.Client, data: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    X, y = data
    client.register_model("r", _build("sklearn", X, y), input_example=X.head(2))
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    with pytest.raises(my.ValidationError, match="not an empty folder"):
        my.registry.export_model(client, "models:/r/1", busy)
    with pytest.raises(my.ValidationError, match="export format 'onnx'"):
        my.registry.export_model(client, "models:/r/1", tmp_path / "x", "onnx")
    with pytest.raises(my.ValidationError, match="only registered or logged models"):
        my.registry.export_model(client, str(tmp_path), tmp_path / "y")
    with pytest.raises(my.NotFoundError):
        my.registry.export_model(client, "models:/r/9", tmp_path / "z")
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())  # no staging left
    assert not any((tmp_path / name).exists() for name in ("x", "y", "z"))
    assert [p.name for p in busy.iterdir()] == ["keep.txt"]


def test_cli_export_from_a_run(fluent: str, data: tuple[pd.DataFrame, pd.Series], tmp_path: Path) -> None:
    X, y = data
    with my.start_run() as run:
        my.sklearn.log_model(_build("sklearn", X, y), "model", input_example=X.head(3))
    out = tmp_path / "from-run"
    result = CliRunner().invoke(
        app,
        ["models", "export", f"runs:/{run.info.run_id}/model", str(out), "--json", "-t", fluent],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["path"] == str(out)
    mlmodel = yaml.safe_load((out / "MLmodel").read_text())
    assert mlmodel["run_id"] == run.info.run_id and mlmodel["artifact_path"] == "model"
    assert mlmodel["flavors"]["sklearn"]["serialization_format"] == "pickle"
    bad = CliRunner().invoke(app, ["models", "export", "models:/nope/1", str(tmp_path / "n"), "-t", fluent])
    assert bad.exit_code == 2 and "nope" in bad.output
