"""XGBoost with the registry: log_model, register_model, an alias, load_model by alias."""

import json

import mlflow
import xgboost as xgb
from mlflow import MlflowClient
from sklearn.datasets import load_breast_cancer
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

mlflow.set_experiment("xgboost-registry")
X, y = load_breast_cancer(return_X_y=True, as_frame=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=3)
model = xgb.XGBClassifier(n_estimators=30, max_depth=3, learning_rate=0.3, n_jobs=1, random_state=0)
model.fit(X_train, y_train)
auc = roc_auc_score(y_test, model.predict_proba(X_test)[:, 1])

with mlflow.start_run() as run:
    mlflow.log_params({"n_estimators": 30, "max_depth": 3})
    mlflow.log_metric("test_auc", auc)
    mlflow.xgboost.log_model(model, name="model", input_example=X_train.head(5))

version = mlflow.register_model(f"runs:/{run.info.run_id}/model", "xgb-breast-cancer")
client = MlflowClient()
client.set_registered_model_alias("xgb-breast-cancer", "champion", version.version)
champion = mlflow.pyfunc.load_model("models:/xgb-breast-cancer@champion")
native = mlflow.xgboost.load_model("models:/xgb-breast-cancer@champion")
by_alias = client.get_model_version_by_alias("xgb-breast-cancer", "champion")
print("PORT-REPORT " + json.dumps({
    "version": int(version.version),
    "alias_version": int(by_alias.version),
    "metrics": {"test_auc": client.get_run(run.info.run_id).data.metrics["test_auc"]},
    "predictions": [int(p) for p in champion.predict(X_test.head(20))],
    "probabilities": [round(float(p), 7) for p in native.predict_proba(X_test.head(5))[:, 1]],
}))
