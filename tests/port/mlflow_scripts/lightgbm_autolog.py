"""LightGBM autologging with lightgbm.train: params, per-iteration metrics, early stopping,
feature importance and the model."""

import json

import lightgbm as lgb
import mlflow
from mlflow import MlflowClient
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

mlflow.set_experiment("lightgbm-autolog")
mlflow.lightgbm.autolog()

X, y = load_breast_cancer(return_X_y=True, as_frame=True)
X.columns = [c.replace(" ", "_") for c in X.columns]
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=7)
train_set = lgb.Dataset(X_train, label=y_train)
valid_set = lgb.Dataset(X_test, label=y_test, reference=train_set)
params = {"objective": "binary", "metric": "binary_logloss", "learning_rate": 0.2,
          "num_leaves": 15, "verbose": -1, "num_threads": 1, "seed": 1}

with mlflow.start_run() as run:
    booster = lgb.train(params, train_set, num_boost_round=100, valid_sets=[valid_set],
                        valid_names=["valid"], callbacks=[lgb.early_stopping(5, verbose=False)])

client = MlflowClient()
stored = client.get_run(run.info.run_id)
history = client.get_metric_history(run.info.run_id, "valid-binary_logloss")
artifacts = sorted(a.path for a in client.list_artifacts(run.info.run_id))
model = mlflow.lightgbm.load_model(f"runs:/{run.info.run_id}/model")
print("PORT-REPORT " + json.dumps({
    "params": {k: stored.data.params[k] for k in ("learning_rate", "num_leaves", "num_boost_round")},
    "metrics": {k: stored.data.metrics[k] for k in ("best_iteration", "stopped_iteration", "valid-binary_logloss")},
    "history": [round(m.value, 9) for m in sorted(history, key=lambda m: m.step)],
    "artifacts": [a for a in artifacts if a.endswith(".json")],
    "predictions": [round(float(p), 9) for p in model.predict(X_test.head(10))],
}))
