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


def test_a_search_logs_one_child_run_per_candidate_as_mlflow_does(autologging: None) -> None:
    X, y = load_iris(return_X_y=True)
    search = GridSearchCV(
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=200)),
        {"logisticregression__C": [0.1, 1.0, 10.0]},
        cv=2,
    )
    with my.start_run() as run:
        search.fit(X, y)
    parent = my.get_run(run.info.run_id)
    assert parent.data.tags["estimator_class"].endswith("GridSearchCV")
    assert parent.data.metrics["best_cv_score"] == pytest.approx(search.best_score_)
    assert parent.data.params["best_logisticregression__C"] == str(
        search.best_params_["logisticregression__C"]
    )
    assert {f.path for f in my.get_client().list_artifacts(run.info.run_id)} == {
        "best_estimator",
        "cv_results.csv",
        "model",
    }
    # the candidates' own fits start no runs; the children are rebuilt from cv_results_
    children = my.search_runs(
        filter_string=f"tags.mlflow.parentRunId = '{run.info.run_id}'", output_format="list"
    )
    assert len(children) == 3
    assert len(my.search_runs(search_all_experiments=True, output_format="list")) == 4
    by_c = {c.data.params["logisticregression__C"]: c for c in children}
    assert set(by_c) == {"0.1", "1.0", "10.0"}
    for i, c_value in enumerate(search.cv_results_["param_logisticregression__C"]):
        child = by_c[str(c_value)]
        assert child.info.status.value == "FINISHED"
        assert child.data.metrics["mean_test_score"] == pytest.approx(
            search.cv_results_["mean_test_score"][i]
        )
        assert child.data.metrics["rank_test_score"] == search.cv_results_["rank_test_score"][i]
        assert not any(k.startswith("split") for k in child.data.metrics)
        assert child.data.params["memory"] == "None"  # the seed pipeline's params, deep
    best = my.load_model(f"runs:/{run.info.run_id}/best_estimator")
    assert np.array_equal(best.predict(X), search.best_estimator_.predict(X))


def test_max_tuning_runs_keeps_the_best_candidates(fluent: str) -> None:
    my.sklearn.autolog(max_tuning_runs=2, log_models=False)
    try:
        X, y = load_iris(return_X_y=True)
        search = GridSearchCV(
            make_pipeline(StandardScaler(), LogisticRegression(max_iter=200)),
            {"logisticregression__C": [0.001, 0.01, 1.0, 10.0]},
            cv=2,
        )
        with my.start_run() as run:
            search.fit(X, y)
    finally:
        my.sklearn.autolog(disable=True)
    children = my.search_runs(
        filter_string=f"attributes.parent_run_id = '{run.info.run_id}'", output_format="list"
    )
    assert sorted(c.data.metrics["rank_test_score"] for c in children) == [1.0, 2.0]
    assert my.get_client().list_artifacts(run.info.run_id)[0].path == "cv_results.csv"


def test_training_metrics_are_mlflows(autologging: None) -> None:
    X, y = load_iris(return_X_y=True)
    with my.start_run() as run:
        LogisticRegression(max_iter=300).fit(X, y)
    assert set(my.get_run(run.info.run_id).data.metrics) == {
        "training_accuracy_score",
        "training_f1_score",
        "training_log_loss",
        "training_precision_score",
        "training_recall_score",
        "training_roc_auc",
        "training_score",
    }


def test_options_modelyard_does_not_offer_name_what_to_do(fluent: str) -> None:
    with pytest.raises(my.NotSupportedError, match=r"log_datasets=True.*log_input"):
        my.sklearn.autolog(log_datasets=True)
    with pytest.raises(my.NotSupportedError, match=r"log_post_training_metrics.*log_metric"):
        my.sklearn.autolog(log_post_training_metrics=True)
    with pytest.raises(TypeError, match="bogus"):
        my.autolog(bogus=1)  # type: ignore[call-arg]


def test_exclusive_leaves_the_users_run_alone(fluent: str) -> None:
    my.sklearn.autolog(exclusive=True, log_models=False)
    try:
        X, y = load_iris(return_X_y=True)
        with my.start_run() as run:
            LogisticRegression(max_iter=300).fit(X, y)
        LogisticRegression(max_iter=300).fit(X, y)
    finally:
        my.sklearn.autolog(disable=True)
    assert my.get_run(run.info.run_id).data.params == {}
    own = [r for r in my.search_runs(output_format="list") if r.info.run_id != run.info.run_id]
    assert len(own) == 1 and own[0].data.params["max_iter"] == "300"


def test_extra_tags_and_registered_model_name(fluent: str) -> None:
    my.sklearn.autolog(extra_tags={"team": "risk"}, registered_model_name="iris-auto")
    try:
        X, y = load_iris(return_X_y=True)
        LogisticRegression(max_iter=300).fit(X, y)
    finally:
        my.sklearn.autolog(disable=True)
    (run,) = my.search_runs(output_format="list")
    assert run.data.tags["team"] == "risk"
    version = my.get_client().get_model_version("iris-auto", 1)
    assert version.run_id == run.info.run_id


def test_disable_restores_plain_fit(fluent: str) -> None:
    my.autolog()
    my.autolog(disable=True)
    X, y = load_iris(return_X_y=True)
    LogisticRegression(max_iter=300).fit(X, y)
    assert my.active_run() is None
    assert my.get_client().search_experiments() == []


def test_a_logging_failure_is_a_warning_not_a_failed_fit(autologging: None) -> None:
    X, y = load_iris(return_X_y=True)
    with my.start_run():
        my.log_param("C", "5")  # autolog will log C=0.7 to the same run: a conflict
        with pytest.warns(UserWarning, match="autolog could not log.*ParamConflictError"):
            model = LogisticRegression(C=0.7, max_iter=300).fit(X, y)
    assert model.coef_.shape == (3, 4)
