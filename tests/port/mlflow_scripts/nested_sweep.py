"""A sweep as nested runs: a parent run, one child per learning rate, the best one found with
search_runs on the parent's id and recorded on the parent."""

import json

import mlflow
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split

mlflow.set_experiment("gbm-sweep")
X, y = load_breast_cancer(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=5)

with mlflow.start_run(run_name="sweep") as parent:
    mlflow.log_param("search", "learning_rate")
    for lr in (0.05, 0.1, 0.3):
        with mlflow.start_run(run_name=f"lr-{lr}", nested=True):
            model = GradientBoostingClassifier(n_estimators=25, learning_rate=lr, random_state=0)
            model.fit(X_train, y_train)
            mlflow.log_param("learning_rate", lr)
            for step, proba in enumerate(model.staged_predict_proba(X_test)):
                mlflow.log_metric("test_log_loss", log_loss(y_test, proba), step=step)
    children = mlflow.search_runs(
        filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
        order_by=["metrics.test_log_loss ASC"],
    )
    best = children.iloc[0]
    mlflow.log_metric("best_test_log_loss", best["metrics.test_log_loss"])
    mlflow.set_tag("best_run", best["run_id"])

stored = mlflow.get_run(parent.info.run_id)
print("PORT-REPORT " + json.dumps({
    "children": len(children),
    "best_learning_rate": best["params.learning_rate"],
    "best_test_log_loss": round(stored.data.metrics["best_test_log_loss"], 9),
    "child_losses": [round(float(v), 9) for v in children["metrics.test_log_loss"]],
    "parent_of_best": mlflow.get_run(best["run_id"]).info.run_id == best["run_id"],
}))
