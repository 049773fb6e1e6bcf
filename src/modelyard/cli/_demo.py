"""``modelyard demo``: real scikit-learn training runs, tracked and compared.

Grows with the project into the full loop; today it trains three classifiers on the
breast-cancer data set that ships with scikit-learn, as child runs of one model-selection
run, and prints them side by side.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress

from modelyard.cli._common import TrackingUri
from modelyard.cli._output import console, friendly_errors, number, table
from modelyard.core.errors import MissingDependencyError


def _models() -> dict[str, tuple[Any, dict[str, Any]]]:
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return {
        "logistic": (
            make_pipeline(StandardScaler(), LogisticRegression(C=0.5, max_iter=500)),
            {"model": "logistic", "C": 0.5},
        ),
        "forest": (
            RandomForestClassifier(n_estimators=200, max_depth=6, random_state=0, n_jobs=2),
            {"model": "forest", "n_estimators": 200, "max_depth": 6},
        ),
        "gbm": (
            GradientBoostingClassifier(
                n_estimators=150, learning_rate=0.1, max_depth=3, random_state=0
            ),
            {"model": "gbm", "n_estimators": 150, "learning_rate": 0.1, "max_depth": 3},
        ),
    }


def run_demo(tracking_uri: str | None, plot_path: Path) -> list[str]:
    try:
        from sklearn import metrics as skm
        from sklearn.datasets import load_breast_cancer
        from sklearn.model_selection import train_test_split
    except ImportError as error:
        raise MissingDependencyError("scikit-learn", "demo", "modelyard demo") from error
    import pickle

    import modelyard as my

    my.set_tracking_uri(tracking_uri)
    experiment = my.set_experiment("demo-breast-cancer")
    frame = load_breast_cancer(as_frame=True).frame
    train, test = train_test_split(frame, test_size=0.3, random_state=0, stratify=frame["target"])
    X_train, y_train = train.drop(columns="target"), train["target"]
    X_test, y_test = test.drop(columns="target"), test["target"]
    children: list[str] = []
    models = _models()
    with (
        my.start_run(run_name="model-selection") as parent,
        Progress(console=console, transient=True) as progress,
    ):
        my.log_config(
            {
                "data": {"name": "breast_cancer", "test_size": 0.3, "seed": 0},
                "candidates": list(models),
            }
        )
        task = progress.add_task("training", total=len(models))
        for name, (model, params) in models.items():
            progress.update(task, description=f"training {name}")
            with my.start_run(run_name=name, nested=True) as run:
                my.log_params(params)
                my.log_input(
                    my.data.from_pandas(train, name="breast-cancer-train", targets="target"),
                    context="training",
                )
                my.log_input(
                    my.data.from_pandas(test, name="breast-cancer-test", targets="target"),
                    context="evaluation",
                )
                started = time.perf_counter()
                model.fit(X_train, y_train)
                my.log_metric("fit_seconds", time.perf_counter() - started)
                if hasattr(model, "staged_predict_proba"):
                    for step, proba in enumerate(model.staged_predict_proba(X_test)):
                        my.log_metric("test_log_loss", skm.log_loss(y_test, proba), step=step)
                proba = model.predict_proba(X_test)[:, 1]
                predicted = (proba >= 0.5).astype(int)
                my.log_metrics(
                    {
                        "test_auc": skm.roc_auc_score(y_test, proba),
                        "test_accuracy": skm.accuracy_score(y_test, predicted),
                        "test_f1": skm.f1_score(y_test, predicted),
                        "test_log_loss": skm.log_loss(y_test, proba),
                    },
                    step=len(getattr(model, "estimators_", [])) or 0,
                )
                my.get_client().log_bytes(run.info.run_id, pickle.dumps(model), "model/model.pkl")
                children.append(run.info.run_id)
            progress.advance(task)
        best = my.search_runs(
            experiment_ids=[experiment.experiment_id],
            filter_string=f"attributes.parent_run_id = '{parent.info.run_id}'",
            order_by=["metrics.test_auc DESC"],
            output_format="list",
        )
        my.set_tag("best_run", best[0].info.run_id)
        my.log_metric("best_test_auc", best[0].data.metrics["test_auc"])
    my.plot_metric_history(children, plot_path, keys=["test_log_loss"])
    rows = [
        [
            r.info.run_name,
            r.info.run_id[:8],
            number(r.data.metrics["test_auc"]),
            number(r.data.metrics["test_accuracy"]),
            number(r.data.metrics["test_f1"]),
            number(r.data.metrics["test_log_loss"]),
            f"{r.data.metrics['fit_seconds']:.2f}s",
        ]
        for r in best
    ]
    table(
        f"Experiment {experiment.name!r}: runs of {parent.info.run_name!r}, best first",
        ["model", "run", "test AUC", "accuracy", "F1", "log loss", "fit"],
        rows,
    )
    console.print(
        f"Stored in [bold]{my.get_tracking_uri()}[/]; loss curves plotted to [bold]{plot_path}[/]"
    )
    console.print(
        'Next: [cyan]modelyard runs search "metrics.test_auc > 0.95" -o "metrics.test_auc DESC"[/], '
        f"[cyan]modelyard runs show {best[0].info.run_id}[/], "
        f"[cyan]modelyard runs compare {' '.join(children)}[/]"
    )
    return children


def demo(
    tracking_uri: TrackingUri = None,
    plot: Annotated[Path, typer.Option(help="Where to write the PNG of the loss curves.")] = Path(
        "modelyard-demo-loss.png"
    ),
) -> None:
    """Train three scikit-learn models on a bundled data set, track them, compare them."""
    with friendly_errors():
        run_demo(tracking_uri, plot)
