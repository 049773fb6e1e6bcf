"""MLflow's module layout under modelyard: ``modelyard.sklearn``, ``.lightgbm``, ``.xgboost``,
``.onnx``, ``.pyfunc``, ``.models``, ``.entities``, ``.exceptions``, ``.client`` — thin
façades over the one implementation, with MLflow's call shapes and pointed errors for what
is not offered (ecosystem review §3, item 1)."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import lightgbm
import numpy as np
import pandas as pd
import pytest
import xgboost
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression

import modelyard as my

FACADES = {
    "sklearn": {"log_model", "save_model", "load_model", "autolog"},
    "lightgbm": {"log_model", "save_model", "load_model", "autolog"},
    "xgboost": {"log_model", "save_model", "load_model", "autolog"},
    "onnx": {"log_model", "save_model", "load_model"},
    "pyfunc": {"PythonModel", "PythonModelContext", "load_model", "log_model", "spark_udf"},
    "models": {"infer_signature", "ModelSignature", "evaluate"},
    "entities": {"Run", "RunInfo", "Metric", "Param", "ModelVersion", "RegisteredModel"},
    "exceptions": {"MlflowException"},
    "client": {"MlflowClient"},
}


@pytest.fixture
def frame() -> tuple[pd.DataFrame, pd.Series]:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    return (X - X.mean()) / X.std(), y  # scaled: LogisticRegression converges at once


@pytest.mark.parametrize("module", sorted(FACADES))
def test_every_mlflow_module_is_there_with_its_names(module: str) -> None:
    loaded = importlib.import_module(f"modelyard.{module}")
    assert FACADES[module] <= set(loaded.__all__)
    assert all(getattr(loaded, name) is not None for name in loaded.__all__)
    assert getattr(my, module) is loaded  # ``import modelyard; modelyard.sklearn...`` too


def test_the_facades_pull_no_framework_in() -> None:
    code = (
        "import sys, modelyard.sklearn, modelyard.lightgbm, modelyard.xgboost, modelyard.onnx, "
        "modelyard.pyfunc, modelyard.models; print(','.join(m for m in ('sklearn', 'lightgbm', "
        "'xgboost', 'onnx', 'onnxruntime') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_aliases_are_the_same_objects() -> None:
    from modelyard.client import MlflowClient
    from modelyard.exceptions import MlflowException

    assert MlflowClient is my.Client is my.MlflowClient
    assert MlflowException is my.ModelyardError is my.MlflowException
    assert my.pyfunc.PythonModel is my.PythonModel
    assert my.models.infer_signature is my.infer_signature
    with pytest.raises(MlflowException):
        my.get_run("0" * 32)


@pytest.mark.parametrize(
    ("name", "instead"),
    [
        ("enable_system_metrics_logging", "log_metric"),
        ("trace", "tracing"),
        ("run", "modelyard.pipelines"),
        ("deployments", "modelyard serve"),
    ],
)
def test_mlflow_names_not_offered_say_what_to_use(name: str, instead: str) -> None:
    with pytest.raises(AttributeError, match=rf"an MLflow name.*{instead}"):
        getattr(my, name)
    assert not hasattr(my, name)  # still an AttributeError: hasattr and getattr(default) work


def test_tracking_mlflowclient_names_where_it_is() -> None:
    with pytest.raises(my.NotSupportedError, match="from modelyard import MlflowClient"):
        from modelyard.tracking import MlflowClient  # noqa: F401


def test_sklearn_module_round_trip_gives_the_estimator(
    fluent: str, frame: tuple[pd.DataFrame, pd.Series]
) -> None:
    X, y = frame
    model = LogisticRegression().fit(X, y)
    with my.start_run() as run:
        my.sklearn.log_model(
            sk_model=model, name="clf", input_example=X.head(3), serialization_format="cloudpickle"
        )
    loaded = my.sklearn.load_model(f"runs:/{run.info.run_id}/clf")
    assert isinstance(loaded, LogisticRegression)
    assert np.array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_sklearn_module_loads_a_lightgbm_estimator_as_mlflow_does(
    fluent: str, frame: tuple[pd.DataFrame, pd.Series]
) -> None:
    X, y = frame
    model = lightgbm.LGBMClassifier(n_estimators=5, verbose=-1, n_jobs=1).fit(X, y)
    with my.start_run() as run:
        my.sklearn.log_model(model, "model")
    assert isinstance(my.sklearn.load_model(f"runs:/{run.info.run_id}/model"), lightgbm.LGBMClassifier)
    with pytest.raises(my.ValidationError, match=r"is a lightgbm model, not xgboost.*lightgbm"):
        my.xgboost.load_model(f"runs:/{run.info.run_id}/model")


def test_a_model_of_another_framework_is_refused_by_name(
    fluent: str, frame: tuple[pd.DataFrame, pd.Series]
) -> None:
    X, y = frame
    booster = xgboost.train({"nthread": 1}, xgboost.DMatrix(X, y), 2)
    with my.start_run(), pytest.raises(my.ValidationError, match=r"xgboost\.core\.Booster.*not a sklearn model"):
        my.sklearn.log_model(booster, "model")
    with my.start_run() as run:
        my.xgboost.log_model(booster, name="booster")
    loaded = my.xgboost.load_model(f"runs:/{run.info.run_id}/booster")
    assert isinstance(loaded, xgboost.Booster)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"pip_requirements": ["x"]}, r"pip_requirements=.*requirements=\[\.\.\.\]"),
        ({"conda_env": {}}, r"conda_env=.*pip requirements"),
        ({"code_paths": ["src"]}, r"code_paths=.*package"),
        ({"metadata": {"a": 1}}, r"metadata=.*tags"),
        ({"serialization_format": "skops"}, r"skops.*sha256"),
    ],
)
def test_mlflow_options_not_offered_say_what_to_use(
    fluent: str, frame: tuple[pd.DataFrame, pd.Series], kwargs: dict[str, Any], match: str
) -> None:
    X, y = frame
    model = LogisticRegression().fit(X, y)
    with my.start_run(), pytest.raises(my.NotSupportedError, match=match):
        my.sklearn.log_model(model, "model", **kwargs)
    assert my.get_client().list_artifacts(my.last_active_run().info.run_id) == []  # type: ignore[union-attr]


def test_load_model_dst_path_points_at_export(fluent: str) -> None:
    with pytest.raises(my.NotSupportedError, match="modelyard models export"):
        my.sklearn.load_model("models:/x/1", dst_path="here")
    with pytest.raises(my.NotSupportedError, match="modelyard models export"):
        my.pyfunc.load_model("models:/x/1", dst_path="here")


class Scaled(my.pyfunc.PythonModel):
    def load_context(self, context: my.pyfunc.PythonModelContext) -> None:
        self.factor = float(Path(context.artifacts["factor"]).read_text())

    def predict(self, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> Any:
        return model_input["x"].to_numpy() * self.factor


def test_pyfunc_log_model_with_artifacts_and_load_model(fluent: str, tmp_path: Path) -> None:
    (tmp_path / "factor.txt").write_text("2.5")
    frame = pd.DataFrame({"x": [1.0, 2.0, 4.0]})
    with my.start_run() as run:
        my.pyfunc.log_model(
            artifact_path="scaled",
            python_model=Scaled(),
            artifacts={"factor": str(tmp_path / "factor.txt")},
            input_example=frame,
            registered_model_name="scaled",
        )
    model = my.pyfunc.load_model("models:/scaled/1")
    assert isinstance(model, my.pyfunc.PyFuncModel)
    assert model.predict(frame).tolist() == [2.5, 5.0, 10.0]
    assert my.pyfunc.load_model(f"runs:/{run.info.run_id}/scaled").predict(frame)[0] == 2.5


def test_pyfunc_what_is_not_offered(fluent: str) -> None:
    with pytest.raises(my.NotSupportedError, match="modelyard score"):
        my.pyfunc.spark_udf(None, "models:/x/1")
    with pytest.raises(my.NotSupportedError, match="models from code"):
        my.pyfunc.log_model("model", python_model="model_code.py")
    with pytest.raises(my.NotSupportedError, match="loader_module"):
        my.pyfunc.log_model("model", loader_module="my_loader", data_path="data")
    with pytest.raises(my.NotSupportedError, match="download it first"):
        my.pyfunc.log_model("model", python_model=Scaled(), artifacts={"f": "s3://b/f"})
    with pytest.raises(my.ValidationError, match="needs python_model="):
        my.pyfunc.log_model("model")


def test_onnx_module_round_trip_gives_the_graph(
    fluent: str, frame: tuple[pd.DataFrame, pd.Series]
) -> None:
    import onnx
    from skl2onnx import to_onnx

    X, y = frame
    X32 = X.to_numpy(dtype=np.float32)
    model = LogisticRegression().fit(X32, y)
    graph = to_onnx(model, X32[:1], options={"zipmap": False})
    with my.start_run() as run:
        my.onnx.log_model(graph, "model")
    loaded = my.onnx.load_model(f"runs:/{run.info.run_id}/model")
    assert isinstance(loaded, onnx.ModelProto)
    assert loaded.SerializeToString() == graph.SerializeToString()
    scored = my.pyfunc.load_model(f"runs:/{run.info.run_id}/model").predict(X32[:5])
    assert np.array_equal(scored, model.predict(X32[:5]))
