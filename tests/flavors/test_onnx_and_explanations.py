"""ONNX conversion (kept only when it matches) and per-prediction explanations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import modelyard as my
from modelyard.flavors import load_bundle, save_model


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.Series]:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    return X, y


def _models(X: pd.DataFrame, y: pd.Series) -> dict[str, Any]:
    import lightgbm
    import xgboost

    return {
        "sklearn": make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y),
        "lightgbm": lightgbm.LGBMClassifier(n_estimators=30, verbose=-1, n_jobs=1).fit(X, y),
        "xgboost": xgboost.XGBClassifier(n_estimators=30, max_depth=3, n_jobs=1).fit(X, y),
    }


@pytest.mark.parametrize("flavor", ["sklearn", "lightgbm", "xgboost"])
def test_onnx_conversion_is_checked_and_scores_the_same(
    flavor: str, data: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    X, y = data
    model = _models(X, y)[flavor]
    manifest = save_model(model, tmp_path / "m", input_example=X.head(20), onnx=True)
    info = manifest.flavor_config["onnx"]
    assert info["kept"] is True and info["max_abs_diff"] < 1e-4 and "model.onnx" in manifest.files
    onnx_model = load_bundle(tmp_path / "m", trusted=True, engine="onnx")
    assert onnx_model.flavor.name == "onnx"
    assert np.array_equal(onnx_model.predict(X), model.predict(X))
    assert np.allclose(onnx_model.predict_proba(X), model.predict_proba(X), atol=1e-4)
    with pytest.raises(my.SchemaError, match="missing column"):
        onnx_model.predict(X.drop(columns=["mean area"]))


def test_onnx_needs_an_example_and_a_convertible_flavor(
    data: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    X, y = data
    with pytest.raises(my.ValidationError, match="onnx=True needs an input_example"):
        save_model(LogisticRegression().fit(X.iloc[:, :3], y), tmp_path / "a", onnx=True)

    class Custom(my.PythonModel):
        def predict(self, model_input: Any, params: Any = None) -> Any:
            return np.zeros(len(model_input))

    with pytest.raises(
        my.ValidationError,
        match="onnx=True converts sklearn, LightGBM and XGBoost models, not python",
    ):
        save_model(Custom(), tmp_path / "b", input_example=X.head(2), onnx=True)


def test_a_model_without_onnx_says_so(data: tuple[pd.DataFrame, pd.Series], tmp_path: Path) -> None:
    X, y = data
    save_model(
        RandomForestClassifier(n_estimators=3).fit(X, y), tmp_path / "m", input_example=X.head(2)
    )
    with pytest.raises(my.ValidationError, match="has no ONNX graph .*saved without onnx=True"):
        load_bundle(tmp_path / "m", trusted=True, engine="onnx")


def test_registry_serves_the_onnx_engine(
    client: my.Client, data: tuple[pd.DataFrame, pd.Series]
) -> None:
    X, y = data
    model = _models(X, y)["lightgbm"]
    version = client.register_model("fast", model, input_example=X.head(10), onnx=True)
    native = client.load_model(version.uri)
    onnx_model = client.load_model(version.uri, engine="onnx")
    assert native is not onnx_model and native.flavor.name == "lightgbm"
    assert np.allclose(onnx_model.predict_proba(X), native.predict_proba(X), atol=1e-4)


@pytest.mark.parametrize("flavor", ["sklearn", "lightgbm", "xgboost", "forest"])
def test_contributions_add_up_to_the_output(
    flavor: str, data: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    X, y = data
    models = _models(X, y)
    models["forest"] = RandomForestClassifier(n_estimators=10, random_state=0).fit(X, y)
    model = models[flavor]
    save_model(model, tmp_path / "m", input_example=X.head(20))
    loaded = load_bundle(tmp_path / "m", trusted=True)
    rows = X.iloc[200:203]
    contributions = loaded.explain(rows)
    assert list(contributions.columns) == [*X.columns, "base_value"]
    total = contributions.sum(axis=1).to_numpy()
    probability = model.predict_proba(rows)[:, 1]
    if flavor in ("lightgbm", "xgboost"):  # tree contributions are in log-odds
        expected = np.log(probability / (1 - probability))
        assert np.allclose(total, expected, atol=1e-3)
    else:
        assert np.allclose(total, probability, atol=1e-3)
    top = contributions.drop(columns="base_value").abs().sum().idxmax()
    assert top in X.columns


def test_regression_explanations(tmp_path: Path) -> None:
    import lightgbm

    X, y = load_diabetes(return_X_y=True, as_frame=True)
    model = lightgbm.LGBMRegressor(n_estimators=20, verbose=-1, n_jobs=1).fit(X, y)
    save_model(model, tmp_path / "m", input_example=X.head(5))
    contributions = load_bundle(tmp_path / "m", trusted=True).explain(X.head(4))
    assert np.allclose(contributions.sum(axis=1), model.predict(X.head(4)), atol=1e-6)
