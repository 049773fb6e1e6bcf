"""Bundles for every flavor: saved with hashes, loaded back predicting identically."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import modelyard
from modelyard.flavors import MANIFEST, load_bundle, read_manifest, save_model


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.Series]:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    return X, y


class Scaled(modelyard.PythonModel):
    """A custom model with an artifact file: a threshold read at load time."""

    def load_context(self, context: modelyard.ModelContext) -> None:
        self.factor = float(Path(context.artifacts["factor"]).read_text())

    def predict(self, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> Any:
        return (model_input["mean radius"] * self.factor).to_numpy()


def _models(X: pd.DataFrame, y: pd.Series) -> dict[str, Any]:
    import lightgbm
    import xgboost

    return {
        "sklearn": make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y),
        "lightgbm": lightgbm.LGBMClassifier(n_estimators=30, verbose=-1, n_jobs=1).fit(X, y),
        "xgboost": xgboost.XGBClassifier(n_estimators=30, max_depth=3, n_jobs=1).fit(X, y),
    }


@pytest.mark.parametrize("flavor", ["sklearn", "lightgbm", "xgboost"])
def test_framework_models_round_trip(
    flavor: str, data: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    X, y = data
    model = _models(X, y)[flavor]
    manifest = save_model(model, tmp_path / "bundle", input_example=X.head(3))
    assert manifest.flavor == flavor
    assert manifest.signature is not None and manifest.signature.input_names == list(X.columns)
    assert manifest.feature_importance and len(manifest.feature_importance) == X.shape[1]
    assert set(manifest.files) >= {"input_example.json"}
    assert any(
        r.startswith(("scikit-learn==", "lightgbm==", "xgboost")) for r in manifest.requirements
    )
    loaded = load_bundle(tmp_path / "bundle", trusted=True)
    assert np.array_equal(loaded.predict(X), model.predict(X))
    assert np.allclose(loaded.predict_proba(X), model.predict_proba(X))


def test_native_boosters_round_trip(data: tuple[pd.DataFrame, pd.Series], tmp_path: Path) -> None:
    import lightgbm
    import xgboost

    X, y = data
    X = X.rename(columns=lambda c: c.replace(" ", "_"))
    lgb = lightgbm.train(
        {"objective": "binary", "verbose": -1}, lightgbm.Dataset(X, y), num_boost_round=10
    )
    save_model(lgb, tmp_path / "lgb", input_example=X.head(2))
    assert np.allclose(load_bundle(tmp_path / "lgb", trusted=True).predict(X), lgb.predict(X))
    xgb = xgboost.train({"objective": "binary:logistic"}, xgboost.DMatrix(X, y), num_boost_round=10)
    save_model(xgb, tmp_path / "xgb", input_example=X.head(2))
    assert np.allclose(
        load_bundle(tmp_path / "xgb", trusted=True).predict(X), xgb.predict(xgboost.DMatrix(X))
    )


def test_custom_python_model_with_artifacts(
    data: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    X, _ = data
    (tmp_path / "factor.txt").write_text("2.5")
    save_model(
        Scaled(),
        tmp_path / "py",
        input_example=X.head(2),
        artifacts={"factor": tmp_path / "factor.txt"},
    )
    (tmp_path / "factor.txt").write_text("999")  # the bundle keeps its own copy
    loaded = load_bundle(tmp_path / "py", trusted=True)
    assert np.allclose(loaded.predict(X.head(4)), X["mean radius"].head(4) * 2.5)


def test_a_model_fitted_on_arrays_takes_arrays(
    data: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    X, y = data
    model = RandomForestClassifier(n_estimators=5, random_state=0).fit(X.to_numpy(), y)
    save_model(model, tmp_path / "np", input_example=X.to_numpy()[:2])
    loaded = load_bundle(tmp_path / "np", trusted=True)
    assert np.array_equal(loaded.predict(X.to_numpy()), model.predict(X.to_numpy()))
    with pytest.raises(modelyard.SchemaError, match="missing column 'f29'"):
        loaded.predict(X.to_numpy()[:, :29])


def test_prediction_input_is_checked(data: tuple[pd.DataFrame, pd.Series], tmp_path: Path) -> None:
    X, y = data
    save_model(
        make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y),
        tmp_path / "m",
        input_example=X.head(2),
    )
    loaded = load_bundle(tmp_path / "m", trusted=True)
    with pytest.raises(modelyard.SchemaError, match="missing column 'worst area'"):
        loaded.predict(X.drop(columns=["worst area"]))
    with pytest.raises(modelyard.SchemaError, match="unexpected column 'id'"):
        loaded.predict(X.assign(id=1))
    with pytest.raises(modelyard.SchemaError, match="column 'mean radius' must be float64"):
        loaded.predict(X.assign(**{"mean radius": "big"}))


def test_loading_an_arbitrary_folder_needs_trust(
    data: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    X, y = data
    save_model(make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y), tmp_path / "m")
    with pytest.raises(modelyard.UntrustedModelError, match="pass trusted=True"):
        load_bundle(tmp_path / "m")
    with pytest.raises(PermissionError):
        modelyard.load_model(tmp_path / "m")


def test_a_flipped_byte_is_caught_before_unpickling(
    data: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    X, y = data
    save_model(make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y), tmp_path / "m")
    path = tmp_path / "m" / "model.pkl"
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(modelyard.IntegrityError, match="'model.pkl' .* tampered with or corrupted"):
        load_bundle(tmp_path / "m", trusted=True)


def test_unknown_flavor_and_unsaveable_objects(tmp_path: Path) -> None:
    with pytest.raises(
        modelyard.ValidationError, match="unknown flavor 'tensorflow'; known flavors are"
    ):
        save_model(object(), tmp_path / "a", flavor="tensorflow")
    with pytest.raises(
        modelyard.ValidationError, match="no flavor knows how to save a builtins.object"
    ):
        save_model(object(), tmp_path / "b")
    assert not (tmp_path / "b").exists()


def test_a_manifest_naming_an_unknown_flavor(
    data: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    X, y = data
    save_model(make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y), tmp_path / "m")
    text = (tmp_path / "m" / MANIFEST).read_text().replace("flavor: sklearn", "flavor: caffe")
    (tmp_path / "m" / MANIFEST).write_text(text)
    assert read_manifest(tmp_path / "m").flavor == "caffe"
    with pytest.raises(modelyard.ValidationError, match="unknown flavor 'caffe'"):
        load_bundle(tmp_path / "m", trusted=True)


def test_saving_over_a_non_empty_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "keep.txt").write_text("x")
    with pytest.raises(modelyard.ValidationError, match="exists and is not empty"):
        save_model(LogisticRegression(), tmp_path / "m")


def test_python_artifacts_stay_inside_the_bundle(tmp_path: Path) -> None:
    (tmp_path / "factor.txt").write_text("2.5")
    save_model(Scaled(), tmp_path / "py", artifacts={"factor": tmp_path / "factor.txt"})
    (tmp_path / "secret.txt").write_text("7")
    manifest = (tmp_path / "py" / MANIFEST).read_text()
    (tmp_path / "py" / MANIFEST).write_text(manifest.replace("factor.txt\n", "../../secret.txt\n", 1))
    with pytest.raises(modelyard.IntegrityError, match="secret.txt' in artifacts.factor"):
        load_bundle(tmp_path / "py", trusted=True)


def test_a_bundle_holding_a_symbolic_link_is_refused(
    data: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    X, y = data
    save_model(make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y), tmp_path / "m")
    (tmp_path / "secret.txt").write_text("secret")
    (tmp_path / "m" / "notes.txt").symlink_to(tmp_path / "secret.txt")
    client = modelyard.Client(f"sqlite:///{tmp_path}/s.db", artifact_uri=str(tmp_path / "a"))
    with pytest.raises(modelyard.ValidationError, match="'notes.txt'; a bundle holds its own files"):
        client.register_model("m", tmp_path / "m")
