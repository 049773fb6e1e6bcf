"""The Done-when of the registry: for scikit-learn, LightGBM, XGBoost and a custom model,
run -> registered version -> gate -> champion -> loaded back, predicting identically, with a
card that renders."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import modelyard as my


class RuleModel(my.PythonModel):
    """A hand-written scorecard: a custom Python model."""

    def predict(self, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> Any:
        return (model_input["worst radius"] < 16.8).astype(int).to_numpy()

    def predict_proba(self, model_input: pd.DataFrame) -> Any:
        p = 1 / (1 + np.exp(model_input["worst radius"].to_numpy() - 16.8))
        return np.column_stack([1 - p, p])


def build(kind: str, X: pd.DataFrame, y: pd.Series) -> Any:
    import lightgbm
    import xgboost

    return {
        "sklearn": lambda: make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y),
        "lightgbm": lambda: lightgbm.LGBMClassifier(n_estimators=40, verbose=-1, n_jobs=1).fit(
            X, y
        ),
        "xgboost": lambda: xgboost.XGBClassifier(n_estimators=40, max_depth=3, n_jobs=1).fit(X, y),
        "custom": lambda: RuleModel(),
    }[kind]()


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.images = 0
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "img" and any(
            k == "src" and (v or "").startswith("data:image/png;base64,") for k, v in attrs
        ):
            self.images += 1

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.mark.parametrize("kind", ["sklearn", "lightgbm", "xgboost", "custom"])
def test_run_to_champion_and_back(kind: str, fluent: str, tmp_path: Path) -> None:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    frame = X.assign(target=y)
    client = my.get_client()
    my.set_experiment("credit")
    with my.start_run() as run:
        my.log_input(my.data.from_pandas(frame, name="applications", targets="target"))
        model = build(kind, X, y)
        my.log_metric("auc", 0.9)
        info = my.log_model(
            model, "model", input_example=X.head(5), registered_model_name=f"m-{kind}"
        )
    version = info.model_version
    assert isinstance(version, my.ModelVersion) and version.version == 1
    assert info.registered_model_version == 1 and info.model_uri == f"runs:/{run.info.run_id}/model"
    assert (
        version.run_id == run.info.run_id
        and version.lineage["datasets"][0]["name"] == "applications"
    )
    client.set_model_gate(
        f"m-{kind}", {"checks": [{"metric": "auc", "min": 0.8}, {"latency_ms": 1000}]}
    )
    checks = client.promote(f"m-{kind}", 1)
    assert all(c.passed for c in checks) and len(checks) == 3
    champion = my.load_model(f"models:/m-{kind}@champion")
    assert np.array_equal(champion.predict(X), np.asarray(model.predict(X)))
    result = client.evaluate_model_version(
        f"m-{kind}", 1, frame, "target", slices={"size": (X["mean radius"] > 15).to_numpy()}
    )
    assert 0.5 < result.metrics["roc_auc"] <= 1.0 and "size" in result.slices
    card = client.model_card(f"m-{kind}", 1, tmp_path / "cards")
    assert f"# Model card: m-{kind} v1" in card.markdown and "applications" in card.markdown
    assert "| roc_auc |" in card.markdown and "champion" in card.markdown
    parsed = _Collect()
    parsed.feed((tmp_path / "cards" / f"m-{kind}-v1.html").read_text())
    assert parsed.tags.count("h2") >= 10 and parsed.images >= 3
    assert "Training data" in "".join(parsed.text)


def test_register_from_each_kind_of_source(fluent: str, tmp_path: Path) -> None:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    client = my.get_client()
    with my.start_run():
        info = my.log_model(model, "model", input_example=X.head(2))
    uri = info.model_uri
    assert uri.startswith("runs:/") and info.registered_model_version is None
    assert info.flavor == "sklearn" and info.signature is not None
    v1 = my.register_model(uri, "multi")
    my.save_model(model, tmp_path / "bundle", input_example=X.head(2))
    v2 = client.register_model("multi", tmp_path / "bundle")
    v3 = client.register_model("multi", model, input_example=X.head(2))
    assert [v1.version, v2.version, v3.version] == [1, 2, 3]
    assert (
        v1.files["model.pkl"] == v2.files["model.pkl"] == v3.files["model.pkl"]
    )  # same bytes, one blob
    for v in (v1, v2, v3):
        loaded = my.load_model(v.uri)
        assert np.array_equal(loaded.predict(X), model.predict(X))
    assert np.array_equal(my.load_model(uri).predict(X.head()), model.predict(X.head()))
    assert client.get_latest_version("multi").version == 3
    assert my.load_model("models:/multi/latest").predict(X.head()).shape == (5,)
