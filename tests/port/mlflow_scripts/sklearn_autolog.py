"""scikit-learn autologging: a fit inside a run logs params, training metrics and the model."""

import json

import mlflow
from sklearn.datasets import load_diabetes
from sklearn.ensemble import RandomForestRegressor
from sklearn.model_selection import train_test_split

mlflow.set_experiment("sklearn-autolog")
mlflow.sklearn.autolog()

db = load_diabetes()
X_train, X_test, y_train, y_test = train_test_split(db.data, db.target, random_state=0)
rf = RandomForestRegressor(n_estimators=20, max_depth=6, max_features=3, random_state=0)

with mlflow.start_run() as run:
    rf.fit(X_train, y_train)
    predictions = rf.predict(X_test)

stored = mlflow.get_run(run.info.run_id)
model = mlflow.sklearn.load_model(f"runs:/{run.info.run_id}/model")
print("PORT-REPORT " + json.dumps({
    "params": {k: stored.data.params[k] for k in ("n_estimators", "max_depth", "max_features")},
    "metrics": {k: v for k, v in stored.data.metrics.items() if k.startswith("training_")},
    "tags": stored.data.tags["estimator_class"],
    "predictions": [round(float(p), 6) for p in model.predict(X_test[:10])],
    "same_predictions": bool((model.predict(X_test) == predictions).all()),
}))
