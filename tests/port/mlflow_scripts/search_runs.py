"""search_runs with a filter and an order: the runs of a small grid, best first."""

import json

import mlflow
from sklearn.datasets import load_diabetes
from sklearn.linear_model import ElasticNet
from sklearn.metrics import mean_squared_error
from sklearn.model_selection import train_test_split

experiment = mlflow.set_experiment("elasticnet-grid")
X, y = load_diabetes(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=1)

for alpha in (0.01, 0.1, 0.5):
    for l1_ratio in (0.2, 0.8):
        with mlflow.start_run(run_name=f"alpha={alpha},l1={l1_ratio}"):
            model = ElasticNet(alpha=alpha, l1_ratio=l1_ratio, random_state=0).fit(X_train, y_train)
            rmse = mean_squared_error(y_test, model.predict(X_test)) ** 0.5
            mlflow.log_params({"alpha": alpha, "l1_ratio": l1_ratio})
            mlflow.log_metric("rmse", rmse)

runs = mlflow.search_runs(
    experiment_ids=[experiment.experiment_id],
    filter_string="metrics.rmse < 70 and params.l1_ratio = '0.8'",
    order_by=["metrics.rmse ASC"],
)
as_list = mlflow.search_runs(
    experiment_ids=[experiment.experiment_id], filter_string="params.alpha = '0.5'",
    output_format="list",
)
print("PORT-REPORT " + json.dumps({
    "matching": len(runs),
    "order": [float(v) for v in runs["params.alpha"]],
    "rmse": [round(float(v), 9) for v in runs["metrics.rmse"]],
    "names": sorted(r.info.run_name for r in as_list),
}))
