"""autolog() for LightGBM and XGBoost, against their real training calls: params, the
per-iteration evaluation metrics, early stopping, feature importance and the model."""

from __future__ import annotations

import json
from collections.abc import Iterator

import lightgbm
import numpy as np
import pandas as pd
import pytest
import xgboost
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import GridSearchCV, train_test_split

import modelyard as my


@pytest.fixture
def data() -> tuple[pd.DataFrame, pd.DataFrame, pd.Series, pd.Series]:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X.columns = [c.replace(" ", "_") for c in X.columns]
    X_train, X_valid, y_train, y_valid = train_test_split(X, y, random_state=0, test_size=0.3)
    return X_train, X_valid, y_train, y_valid


@pytest.fixture
def autologging(fluent: str) -> Iterator[None]:
    my.autolog()
    yield
    my.autolog(disable=True)


def _artifact_json(run_id: str, path: str) -> dict[str, float]:
    loaded: dict[str, float] = json.loads(my.get_client().read_artifact(run_id, path))
    return loaded


def _series(run_id: str, key: str) -> list[float]:
    return [m.value for m in my.get_client().get_metric_history(run_id, key)]


def test_lightgbm_train_logs_params_iterations_early_stopping_importance_and_model(
    autologging: None, data: tuple[pd.DataFrame, pd.DataFrame, pd.Series, pd.Series]
) -> None:
    X_train, X_valid, y_train, y_valid = data
    train_set = lightgbm.Dataset(X_train, y_train)
    valid_set = lightgbm.Dataset(X_valid, y_valid, reference=train_set)
    recorded: dict[str, dict[str, list[float]]] = {}
    with my.start_run() as run:
        booster = lightgbm.train(
            {"objective": "binary", "learning_rate": 0.3, "verbose": -1, "num_threads": 1},
            train_set,
            num_boost_round=60,
            valid_sets=[train_set, valid_set],
            valid_names=["train", "valid"],
            callbacks=[
                lightgbm.early_stopping(3, verbose=False),
                lightgbm.record_evaluation(recorded),  # the caller's own callback still runs
            ],
        )
    run_id = run.info.run_id
    stored = my.get_run(run_id)
    assert stored.data.params["objective"] == "binary"
    assert stored.data.params["learning_rate"] == "0.3"
    assert stored.data.params["num_boost_round"] == "60"
    assert stored.data.tags["modelyard.autolog"] == "lightgbm"
    iterations = len(recorded["valid"]["binary_logloss"])
    assert 0 < iterations < 60  # it stopped early
    assert _series(run_id, "valid-binary_logloss")[:iterations] == pytest.approx(
        recorded["valid"]["binary_logloss"]
    )
    assert len(_series(run_id, "train-binary_logloss")) == iterations + 1  # + the best, after
    assert stored.data.metrics["stopped_iteration"] == iterations
    assert stored.data.metrics["best_iteration"] == booster.best_iteration
    assert stored.data.metrics["valid-binary_logloss"] == pytest.approx(
        recorded["valid"]["binary_logloss"][booster.best_iteration - 1]
    )
    gain = _artifact_json(run_id, "feature_importance_gain.json")
    split = _artifact_json(run_id, "feature_importance_split.json")
    assert set(gain) == set(split) == set(X_train.columns)
    assert gain["worst_perimeter"] == pytest.approx(
        float(booster.feature_importance("gain")[list(X_train.columns).index("worst_perimeter")])
    )
    model = my.load_model(f"runs:/{run_id}/model")
    assert model.manifest.flavor == "lightgbm"
    assert np.allclose(model.predict(X_valid), booster.predict(X_valid))
    assert my.lightgbm.load_model(f"runs:/{run_id}/model").num_trees() == booster.num_trees()


def test_lightgbm_sklearn_api_logs_the_estimator(
    autologging: None, data: tuple[pd.DataFrame, pd.DataFrame, pd.Series, pd.Series]
) -> None:
    X_train, X_valid, y_train, y_valid = data
    model = lightgbm.LGBMClassifier(n_estimators=15, num_leaves=7, verbose=-1, n_jobs=1)
    model.fit(X_train, y_train, eval_X=(X_valid,), eval_y=(y_valid,))
    (run,) = my.search_runs(output_format="list")  # a fit outside a run gets its own
    assert run.info.run_name == "LGBMClassifier" and run.info.status.value == "FINISHED"
    assert run.data.params["num_leaves"] == "7" and run.data.params["num_boost_round"] == "15"
    assert _series(run.info.run_id, "valid_0-binary_logloss") == pytest.approx(
        model.evals_result_["valid_0"]["binary_logloss"]
    )
    assert set(_artifact_json(run.info.run_id, "feature_importance_split.json")) == set(
        X_train.columns
    )
    loaded = my.lightgbm.load_model(f"runs:/{run.info.run_id}/model")
    assert isinstance(loaded, lightgbm.LGBMClassifier)
    assert np.array_equal(loaded.predict_proba(X_valid), model.predict_proba(X_valid))
    assert my.load_model(f"runs:/{run.info.run_id}/model").signature.input_names == list(
        X_train.columns
    )


def test_xgboost_train_logs_params_iterations_early_stopping_importance_and_model(
    autologging: None, data: tuple[pd.DataFrame, pd.DataFrame, pd.Series, pd.Series]
) -> None:
    X_train, X_valid, y_train, y_valid = data
    dtrain = xgboost.DMatrix(X_train, y_train)
    dvalid = xgboost.DMatrix(X_valid, y_valid)
    with my.start_run() as run:
        booster = xgboost.train(
            {"objective": "binary:logistic", "eta": 0.5, "max_depth": 3, "nthread": 1},
            dtrain,
            num_boost_round=80,
            evals=[(dtrain, "train"), (dvalid, "valid")],
            early_stopping_rounds=3,
            verbose_eval=False,
        )
    run_id = run.info.run_id
    stored = my.get_run(run_id)
    assert stored.data.params["eta"] == "0.5" and stored.data.params["max_depth"] == "3"
    assert stored.data.params["num_boost_round"] == "80"
    assert stored.data.params["early_stopping_rounds"] == "3"
    valid = _series(run_id, "valid-logloss")
    iterations = len(valid) - 1  # the last point is the best iteration's, logged after
    assert 0 < iterations < 80
    assert stored.data.metrics["stopped_iteration"] == iterations - 1
    assert stored.data.metrics["best_iteration"] == booster.best_iteration
    assert valid[-1] == pytest.approx(valid[booster.best_iteration])
    weight = _artifact_json(run_id, "feature_importance_weight.json")
    assert weight == booster.get_score(importance_type="weight")
    model = my.load_model(f"runs:/{run_id}/model")
    assert model.manifest.flavor == "xgboost"
    assert np.array_equal(
        my.xgboost.load_model(f"runs:/{run_id}/model").predict(dvalid), booster.predict(dvalid)
    )


def test_xgboost_sklearn_api_logs_the_estimator(
    fluent: str, data: tuple[pd.DataFrame, pd.DataFrame, pd.Series, pd.Series]
) -> None:
    X_train, X_valid, y_train, y_valid = data
    my.xgboost.autolog(importance_types=["weight", "gain"], registered_model_name="xgb-auto")
    try:
        with my.start_run() as run:
            model = xgboost.XGBClassifier(n_estimators=12, max_depth=2, n_jobs=1)
            model.fit(X_train, y_train, eval_set=[(X_valid, y_valid)], verbose=False)
    finally:
        my.xgboost.autolog(disable=True)
    run_id = run.info.run_id
    stored = my.get_run(run_id)
    assert stored.data.params["max_depth"] == "2" and stored.data.params["num_boost_round"] == "12"
    assert _series(run_id, "validation_0-logloss") == pytest.approx(
        model.evals_result()["validation_0"]["logloss"]
    )
    assert {f.path for f in my.get_client().list_artifacts(run_id)} == {
        "feature_importance_gain.json",
        "feature_importance_weight.json",
        "model",
    }
    version = my.get_client().get_model_version("xgb-auto", 1)
    loaded = my.xgboost.load_model(version.uri)
    assert isinstance(loaded, xgboost.XGBClassifier)
    assert np.array_equal(loaded.predict_proba(X_valid), model.predict_proba(X_valid))


def test_a_search_over_lightgbm_logs_one_parent_and_its_children(
    autologging: None, data: tuple[pd.DataFrame, pd.DataFrame, pd.Series, pd.Series]
) -> None:
    X_train, _, y_train, _ = data
    search = GridSearchCV(
        lightgbm.LGBMClassifier(n_estimators=5, verbose=-1, n_jobs=1),
        {"num_leaves": [3, 7]},
        cv=2,
    )
    search.fit(X_train, y_train)
    runs = my.search_runs(output_format="list")
    (parent,) = [r for r in runs if r.info.parent_run_id is None]
    assert parent.info.run_name == "GridSearchCV"
    children = [r for r in runs if r.info.parent_run_id == parent.info.run_id]
    assert sorted(c.data.params["num_leaves"] for c in children) == ["3", "7"]
    assert len(runs) == 3  # the candidates' LightGBM fits started no runs


def test_disable_restores_the_plain_training_calls(fluent: str) -> None:
    originals = (lightgbm.train, xgboost.train, lightgbm.LGBMClassifier.fit, xgboost.XGBModel.fit)
    my.autolog()
    assert lightgbm.train is not originals[0] and xgboost.train is not originals[1]
    my.autolog(disable=True)
    assert (
        lightgbm.train,
        xgboost.train,
        lightgbm.LGBMClassifier.fit,
        xgboost.XGBModel.fit,
    ) == originals
    assert "fit" not in vars(xgboost.XGBRegressor)  # inherited again, not a copy left behind
