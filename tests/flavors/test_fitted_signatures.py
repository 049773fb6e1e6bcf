"""Models carry their schema however they were registered: without an input example the
signature is read from the fitted model (names, dtypes where it knows them, outputs), a model
fitted on an array gets positional inputs f0..fk-1, and a model with none says so."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import lightgbm
import numpy as np
import pandas as pd
import pytest
import xgboost
from sklearn.compose import make_column_transformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import modelyard as my
from modelyard.flavors import load_bundle, save_model


@pytest.fixture(scope="module")
def applications() -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(7)
    n = 300
    frame = pd.DataFrame(
        {
            "income": rng.normal(50, 10, n),
            "age": rng.integers(18, 80, n),
            "purpose": rng.choice(["car", "home", "study"], n),
            "note": rng.choice(["a", "b"], n),
        }
    )
    return frame, (frame.income + rng.normal(0, 5, n) > 50).astype(int)


def _columns(signature: Any) -> list[tuple[str, str]]:
    return [(c.name, c.dtype.value) for c in signature.inputs]


def _saved(model: Any, folder: Path) -> Any:
    """The signature ``model`` is saved with when nothing but the model is given."""
    signature = save_model(model, folder).signature
    assert signature is not None, f"{type(model).__name__} was saved without a signature"
    return signature


def test_a_dataframe_fitted_estimator_names_its_columns(
    applications: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    X, y = applications
    signature = _saved(LogisticRegression().fit(X[["income", "age"]], y), tmp_path / "m")
    assert signature.input_kind.value == "dataframe"
    assert _columns(signature) == [("income", "float64"), ("age", "float64")]
    assert [(c.name, c.dtype.value) for c in signature.outputs] == [("prediction", "int64")]
    regressor = _saved(Ridge().fit(X[["income"]], y.astype(float)), tmp_path / "r")
    assert [(c.name, c.dtype.value) for c in regressor.outputs] == [("prediction", "float64")]


def test_a_pipelines_column_transformer_types_its_columns(
    applications: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    X, y = applications
    prepare = make_column_transformer(
        (make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder()), ["purpose"]),
        (StandardScaler(), ["income"]),
        ("drop", ["note"]),
        remainder="passthrough",
    )
    model = make_pipeline(prepare, LogisticRegression()).fit(X, y)
    signature = _saved(model, tmp_path / "m")
    assert _columns(signature) == [
        ("income", "float64"),
        ("age", "float64"),
        ("purpose", "string"),
        ("note", "float64"),
    ]
    assert [c.name for c in signature.inputs if c.optional] == ["note"]  # dropped: not needed
    loaded = load_bundle(tmp_path / "m", trusted=True)
    rows = X.drop(columns=["note"]).head(5)
    assert np.array_equal(loaded.predict(rows), model.predict(X.head(5)))
    with pytest.raises(my.SchemaError, match="column 'purpose' must be string"):
        loaded.predict(rows.assign(purpose=1.5))


def test_an_array_fitted_model_gets_positional_inputs(
    applications: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    X, y = applications
    array = X[["income", "age"]].to_numpy()
    model = LogisticRegression().fit(array, y)
    signature = _saved(model, tmp_path / "m")
    assert signature.input_kind.value == "ndarray"
    assert signature.input_names == ["f0", "f1"]
    loaded = load_bundle(tmp_path / "m", trusted=True)
    assert np.array_equal(loaded.predict(array[:7]), model.predict(array[:7]))  # [N, k] in order
    with pytest.raises(my.SchemaError, match="missing column 'f1'"):
        loaded.predict(array[:3, :1])


def test_lightgbm_models_and_boosters(
    applications: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    X, y = applications
    frame = X[["income", "age"]].assign(purpose=X.purpose.astype("category"))
    sk_api = lightgbm.LGBMClassifier(n_estimators=5, verbose=-1, n_jobs=1).fit(frame, y)
    signature = _saved(sk_api, tmp_path / "sk")
    assert _columns(signature) == [
        ("income", "float64"),
        ("age", "float64"),
        ("purpose", "string"),
    ]
    assert [(c.name, c.dtype.value) for c in signature.outputs] == [("prediction", "int64")]
    booster = lightgbm.train(
        {"verbose": -1, "num_threads": 1}, lightgbm.Dataset(X[["income", "age"]], y), 3
    )
    assert _saved(booster, tmp_path / "b").input_names == ["income", "age"]
    unnamed = lightgbm.train(
        {"verbose": -1, "num_threads": 1}, lightgbm.Dataset(X[["income", "age"]].to_numpy(), y), 3
    )
    positional = _saved(unnamed, tmp_path / "u")
    assert positional.input_kind.value == "ndarray" and positional.input_names == ["f0", "f1"]
    loaded = load_bundle(tmp_path / "u", trusted=True)
    rows = X[["income", "age"]].to_numpy()[:4]
    assert np.allclose(loaded.predict(rows), unnamed.predict(rows))


def test_xgboost_models_and_boosters(
    applications: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    X, y = applications
    frame = X[["income", "age"]].assign(big=X.income > 55)
    sk_api = xgboost.XGBClassifier(n_estimators=5, max_depth=2, n_jobs=1).fit(frame, y)
    signature = _saved(sk_api, tmp_path / "sk")
    assert _columns(signature) == [("income", "float64"), ("age", "int64"), ("big", "bool")]
    booster = xgboost.train({"nthread": 1}, xgboost.DMatrix(frame, y), 3)
    assert _saved(booster, tmp_path / "b").input_names == ["income", "age", "big"]
    regressor = xgboost.XGBRegressor(n_estimators=5, n_jobs=1).fit(frame.to_numpy(float), y)
    positional = _saved(regressor, tmp_path / "r")
    assert positional.input_names == ["f0", "f1", "f2"]
    assert [(c.name, c.dtype.value) for c in positional.outputs] == [("prediction", "float32")]


def test_registering_or_logging_a_fitted_model_keeps_its_schema(
    applications: tuple[pd.DataFrame, pd.Series], fluent: str
) -> None:
    X, y = applications
    model = LogisticRegression().fit(X[["income", "age"]], y)
    version = my.register_model(model, "credit")
    assert version.signature is not None
    assert [c["name"] for c in version.signature["inputs"]] == ["income", "age"]
    with my.start_run():
        uri = my.log_model(model).model_uri
    assert uri.startswith("runs:/")
    loaded = my.load_model(uri)
    assert loaded.signature is not None and loaded.signature.input_names == ["income", "age"]
    with pytest.raises(my.SchemaError, match="missing column 'age'"):
        loaded.predict(X[["income"]])


class Opaque(my.PythonModel):
    def predict(self, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        return np.zeros(len(model_input))


def test_a_model_without_a_schema_says_what_to_pass(fluent: str) -> None:
    with pytest.warns(my.NoSignatureWarning, match="input_example=.*signature="):
        version = my.register_model(Opaque(), "opaque")
    assert version.signature is None
    with my.start_run(), pytest.warns(my.NoSignatureWarning, match="runs:/.*/model"):
        my.log_model(Opaque())
    with warnings.catch_warnings():
        warnings.simplefilter("error", my.NoSignatureWarning)  # an example: nothing to say
        my.register_model(Opaque(), "opaque", input_example=pd.DataFrame({"x": [1.0]}))
