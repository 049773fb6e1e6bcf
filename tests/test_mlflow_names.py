"""The MLflow names a ported script calls that modelyard lacked (ecosystem review §3, items
4-8): fluent functions, stages mapped onto aliases, ``RunInfo.artifact_uri``,
``Model.metadata``/``get_raw_model`` and ``evaluate``'s MLflow call shape."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import modelyard as my


@pytest.fixture
def fitted() -> tuple[Any, pd.DataFrame, pd.Series]:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    return make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y), X, y


def test_log_table_appends_like_mlflow(fluent: str) -> None:
    with my.start_run() as run:
        my.log_table({"a": [1, 2], "b": ["x", "y"]}, "tables/t.json")
        my.log_table(pd.DataFrame({"a": [3], "b": ["z"]}), "tables/t.json")
        with pytest.raises(my.ValidationError, match=r"must end with \.json"):
            my.log_table({"a": [1]}, "t.csv")
    stored = json.loads(my.get_client().read_artifact(run.info.run_id, "tables/t.json"))
    assert stored == {"columns": ["a", "b"], "data": [[1, "x"], [2, "y"], [3, "z"]]}


def test_log_image_stores_png(fluent: str) -> None:
    pixels = np.zeros((4, 5, 3), dtype=np.uint8)
    pixels[0, 0] = [255, 0, 0]
    with my.start_run() as run:
        my.log_image(pixels, "img/red.png")
        my.log_image(np.full((2, 2), 0.5), key="gray", step=3)
        with pytest.raises(my.ValidationError, match=r"shape \(H, W\).*got shape \(2,\)"):
            my.log_image(np.zeros(2), "bad.png")
        with pytest.raises(my.ValidationError, match=r"\[0, 1\]"):
            my.log_image(np.full((2, 2), 3.0), "bad.png")
    client = my.get_client()
    image = Image.open(io.BytesIO(client.read_artifact(run.info.run_id, "img/red.png")))
    assert image.size == (5, 4) and image.getpixel((0, 0)) == (255, 0, 0)
    (gray,) = client.list_artifact_files(run.info.run_id, "images/gray")
    assert gray.path.startswith("images/gray/step_3_") and gray.path.endswith(".png")


def test_parent_runs_experiment_tags_and_artifact_uris(
    fluent: str, fitted: tuple[Any, pd.DataFrame, pd.Series]
) -> None:
    model, X, _ = fitted
    my.set_experiment("sweep")
    my.set_experiment_tags({"team": "risk", "goal": "auc"})
    with my.start_run() as parent, my.start_run(nested=True) as child:
        my.sklearn.log_model(model, "model")
        assert my.get_artifact_uri() == f"runs:/{child.info.run_id}"
        assert my.get_artifact_uri("model") == f"runs:/{child.info.run_id}/model"
    assert my.get_parent_run(child.info.run_id).info.run_id == parent.info.run_id  # type: ignore[union-attr]
    assert my.get_parent_run(parent.info.run_id) is None
    assert my.get_experiment_by_name("sweep").tags == {"team": "risk", "goal": "auc"}  # type: ignore[union-attr]
    info = my.get_run(child.info.run_id).info
    loaded = my.load_model(f"{info.artifact_uri}/model")
    assert np.array_equal(loaded.predict(X), model.predict(X))


def test_registry_uri_is_the_tracking_store(fluent: str, tmp_path: Path) -> None:
    my.set_registry_uri(fluent)  # the same store: fine
    assert my.get_registry_uri() == my.get_tracking_uri()
    with pytest.raises(my.NotSupportedError, match=r"set_tracking_uri"):
        my.set_registry_uri(f"sqlite:///{tmp_path / 'other.db'}")


def test_fluent_registry_searches(fluent: str, fitted: tuple[Any, pd.DataFrame, pd.Series]) -> None:
    model, X, _ = fitted
    client = my.get_client()
    for name in ("b-model", "a-model"):
        client.register_model(name, model, input_example=X.head(2))
    client.register_model("a-model", model, input_example=X.head(2))
    names = [m.name for m in my.search_registered_models(order_by=["name ASC"])]
    assert names == ["a-model", "b-model"]
    assert [m.name for m in my.search_registered_models(filter_string="name LIKE 'b%'")] == ["b-model"]
    versions = my.search_model_versions(
        filter_string="name = 'a-model'", order_by=["version_number ASC"]
    )
    assert [v.version for v in versions] == [1, 2]
    assert len(my.search_model_versions(max_results=1)) == 1
    with pytest.raises(my.ValidationError, match="unknown identifier 'size'"):
        my.search_model_versions(order_by=["size DESC"])


def test_stages_map_onto_aliases_with_a_deprecation_note(
    client: my.Client, fitted: tuple[Any, pd.DataFrame, pd.Series]
) -> None:
    model, X, _ = fitted
    for _ in range(3):
        client.register_model("staged", model, input_example=X.head(2))
    mlflow_client = my.MlflowClient(client.tracking_uri, artifact_uri=client.artifact_uri)
    with pytest.warns(FutureWarning, match=r"stages are deprecated.*set_registered_model_alias"):
        moved = mlflow_client.transition_model_version_stage("staged", 2, "Production")
    assert moved.current_stage == "Production" and "production" in moved.aliases
    with pytest.warns(FutureWarning):
        mlflow_client.transition_model_version_stage(
            "staged", "3", "production", archive_existing_versions=True
        )
    assert client.get_model_version_by_alias("staged", "production").version == 3
    assert client.get_model_version("staged", 2).current_stage == "Archived"
    with pytest.warns(FutureWarning, match="get_model_version_by_alias"):
        latest = mlflow_client.get_latest_versions("staged", stages=["Production"])
    assert [v.version for v in latest] == [3]
    with pytest.warns(FutureWarning):
        by_stage = {v.current_stage: v.version for v in mlflow_client.get_latest_versions("staged")}
    assert by_stage == {"None": 1, "Archived": 2, "Production": 3}
    with pytest.raises(my.ValidationError, match="stage 'Live'"):
        mlflow_client.transition_model_version_stage("staged", 1, "Live")
    with pytest.warns(FutureWarning):
        mlflow_client.transition_model_version_stage("staged", 3, "None")
    assert client.get_model_version("staged", 3).aliases == []


def test_loaded_model_metadata_and_raw_model(
    fluent: str, fitted: tuple[Any, pd.DataFrame, pd.Series]
) -> None:
    model, X, _ = fitted
    with my.start_run() as run:
        my.log_model(model, "model", input_example=X.head(2))
    loaded = my.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    assert loaded.metadata.signature.input_names == list(X.columns)
    assert loaded.metadata.flavor == "sklearn"
    assert loaded.get_raw_model() is loaded.raw
    with pytest.raises(AttributeError, match="not a PythonModel"):
        loaded.unwrap_python_model()


def test_evaluate_takes_mlflows_call_shape(
    fluent: str, fitted: tuple[Any, pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    model, X, y = fitted
    data = X.assign(label=y)
    with my.start_run() as run:
        uri = f"runs:/{run.info.run_id}/model"
        my.log_model(model, "model", input_example=X.head(2))
        result = my.evaluate(
            uri, data, targets="label", model_type="classifier", evaluators=["default"],
            plots_dir=tmp_path / "plots",
        )
    assert result.metrics["accuracy_score"] == result.metrics["accuracy"] > 0.9
    assert result.metrics["example_count"] == len(data)
    assert my.get_run(run.info.run_id).data.metrics["f1_score"] == result.metrics["f1"]
    with pytest.raises(my.ValidationError, match="targets="):
        my.evaluate(uri, data, log=False)
    with pytest.raises(my.NotSupportedError, match="predictions="):
        my.evaluate(uri, data, targets="label", predictions="p", log=False)
    with pytest.raises(my.NotSupportedError, match="'classifier' and 'regressor'"):
        my.evaluate(uri, data, targets="label", model_type="question-answering", log=False)
    with pytest.raises(TypeError, match="bogus"):
        my.evaluate(uri, data, targets="label", bogus=1)
