"""autolog() for scikit-learn: params, training metrics and the fitted model on fit."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from sklearn.datasets import load_diabetes, load_iris
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import modelyard as my


@pytest.fixture
def autologging(fluent: str) -> Iterator[None]:
    my.autolog()
    yield
    my.autolog(disable=True)


def test_fit_inside_a_run_logs_params_metrics_and_model(autologging: None) -> None:
    X, y = load_iris(return_X_y=True)
    with my.start_run() as run:
        model = LogisticRegression(C=0.7, max_iter=300).fit(X, y)
    stored = my.get_run(run.info.run_id)
    assert stored.data.params["C"] == "0.7" and stored.data.params["max_iter"] == "300"
    assert stored.data.metrics["training_accuracy_score"] == pytest.approx(model.score(X, y))
    assert "training_log_loss" in stored.data.metrics and "training_f1_score" in stored.data.metrics
    restored = my.load_model(f"runs:/{run.info.run_id}/model")
    assert np.array_equal(restored.predict(X), model.predict(X))
    version = my.register_model(f"runs:/{run.info.run_id}/model", "iris")
    assert version.params["C"] == "0.7" and version.metrics["training_accuracy_score"] > 0.9


def test_fit_outside_a_run_gets_its_own_finished_run(autologging: None) -> None:
    X, y = load_diabetes(return_X_y=True)
    RandomForestRegressor(n_estimators=5, random_state=0).fit(X, y)
    (run,) = my.search_runs(search_all_experiments=True, output_format="list")
    assert run.info.status.value == "FINISHED" and run.info.run_name == "RandomForestRegressor"
    assert run.data.metrics["training_r2_score"] > 0.5
    assert run.data.params["n_estimators"] == "5"


def test_only_the_outermost_fit_logs(autologging: None) -> None:
    X, y = load_iris(return_X_y=True)
    search = GridSearchCV(
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=200)),
        {"logisticregression__C": [0.1, 1.0]},
        cv=2,
    )
    with my.start_run() as run:
        search.fit(X, y)
    runs = my.search_runs(search_all_experiments=True, output_format="list")
    assert [r.info.run_id for r in runs] == [run.info.run_id]
    assert my.get_run(run.info.run_id).data.tags["estimator_class"].endswith("GridSearchCV")


def test_disable_restores_plain_fit(fluent: str) -> None:
    my.autolog()
    my.autolog(disable=True)
    X, y = load_iris(return_X_y=True)
    LogisticRegression(max_iter=300).fit(X, y)
    assert my.active_run() is None
    assert my.get_client().search_experiments() == []
