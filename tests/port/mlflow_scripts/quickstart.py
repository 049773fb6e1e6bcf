"""MLflow's tracking quickstart: train, log params and a metric, log and register the model
with its signature and input example, load it back and predict."""

import json
import os

import mlflow
import pandas as pd
from mlflow.models import infer_signature
from sklearn import datasets
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split

mlflow.set_tracking_uri(uri=os.environ["TRACKING_URI"])

X, y = datasets.load_iris(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=42)
params = {"solver": "lbfgs", "max_iter": 1000, "multi_class": "auto", "random_state": 8888}
lr = LogisticRegression(**{k: v for k, v in params.items() if k != "multi_class"})
lr.fit(X_train, y_train)
y_pred = lr.predict(X_test)
accuracy = accuracy_score(y_test, y_pred)

mlflow.set_experiment("MLflow Quickstart")
with mlflow.start_run():
    mlflow.log_params(params)
    mlflow.log_metric("accuracy", accuracy)
    mlflow.set_tag("Training Info", "Basic LR model for iris data")
    signature = infer_signature(X_train, lr.predict(X_train))
    model_info = mlflow.sklearn.log_model(
        sk_model=lr,
        name="iris_model",
        signature=signature,
        input_example=X_train,
        registered_model_name="tracking-quickstart",
    )

loaded_model = mlflow.pyfunc.load_model(model_info.model_uri)
predictions = loaded_model.predict(X_test)
iris_feature_names = datasets.load_iris().feature_names
result = pd.DataFrame(X_test, columns=iris_feature_names)
result["actual_class"] = y_test
result["predicted_class"] = predictions

runs = mlflow.search_runs(experiment_names=["MLflow Quickstart"])
print("PORT-REPORT " + json.dumps({
    "runs": len(runs),
    "metrics": {"accuracy": float(runs["metrics.accuracy"].iloc[0])},
    "params": sorted(c for c in runs.columns if c.startswith("params.")),
    "registered_version": int(model_info.registered_model_version),
    "predictions": [int(p) for p in predictions],
}))
