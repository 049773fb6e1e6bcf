"""``modelyard demo --scenario tracking``: real scikit-learn training runs, tracked, compared, registered, gated.

Grows with the project into the full loop; today it trains three classifiers on the
breast-cancer data set that ships with scikit-learn as child runs of one model-selection
run, prints them side by side, registers each as a version, promotes the best through a
gate (and shows the gate refusing the worst), evaluates the champion and writes its card.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rich.progress import Progress

from modelyard.core.errors import MissingDependencyError
from modelyard.core.formatting import number
from modelyard.core.tables import Styled
from modelyard.demo._show import console, say, table


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


MODEL_NAME = "breast-cancer"
GATE = {
    "checks": [
        {"metric": "test_auc", "min": 0.95},
        {"champion": "test_auc", "delta": 0.005},
        {"latency_ms": 50},
        {"card": ["intended_use", "limitations"]},
    ]
}
CARD = {
    "intended_use": "Teaching example: flags breast-cancer biopsies (bundled scikit-learn data) for review.",
    "limitations": "569 samples from one clinic; not validated for diagnosis.",
}


def _registry_loop(my: Any, ranked: list[Any], test: Any, X_test: Any, card_dir: Path) -> None:
    """Register each candidate, gate it, promote the best, evaluate and document it."""
    client = my.get_client()
    versions = {}
    for run in ranked:
        version = my.register_model(
            f"runs:/{run.info.run_id}/model",
            MODEL_NAME,
            risk_category="limited",
            card=CARD,
            description=f"{run.info.run_name} trained by the demo",
        )
        versions[run.info.run_name] = version
    client.set_model_gate(MODEL_NAME, GATE)
    best, worst = versions[ranked[0].info.run_name], versions[ranked[-1].info.run_name]
    checks = client.promote(MODEL_NAME, best.version)
    table(
        f"Gate for {best.uri} → champion",
        ["check", "result", "detail"],
        [[c.check, Styled("pass", "green") if c.passed else Styled("FAIL", "bold red"), c.detail] for c in checks],
    )
    try:
        client.promote(MODEL_NAME, worst.version)
    except my.GateFailedError as refused:  # the gate's own words say what failed
        say((f"{worst.uri} refused as champion: ", "yellow"), str(refused))
    champion = my.load_model(f"models:/{MODEL_NAME}@champion")
    client.evaluate_model_version(MODEL_NAME, best.version, test, "target")
    client.model_card(MODEL_NAME, best.version, card_dir)
    sample = champion.predict_proba(X_test.head(3))[:, 1]
    say(
        "champion: ",
        (best.uri, "bold"),
        f" ({best.flavor}); P(benign) for 3 test rows: " + ", ".join(f"{p:.3f}" for p in sample) + "; card: ",
        (str(card_dir / f"{MODEL_NAME}-v{best.version}.html"), "bold"),
    )


def run_tracking(
    tracking_uri: str | None, plot_path: Path, card_dir: Path = Path("cards")
) -> list[str]:
    try:
        from sklearn import metrics as skm
        from sklearn.datasets import load_breast_cancer
        from sklearn.model_selection import train_test_split
    except ImportError as error:
        raise MissingDependencyError("scikit-learn", "demo", "modelyard demo") from error
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
                my.log_model(model, "model", input_example=X_test.head(5))
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
        keys=2,
    )
    _registry_loop(my, best, test, X_test, card_dir)
    say("stored in ", (my.get_tracking_uri(), "bold"), "; loss curves plotted to ", (str(plot_path), "bold"))
    say(("Explore what it left:", "bold"))
    for command in (
        'modelyard runs search "metrics.test_auc > 0.95" -o "metrics.test_auc DESC"',
        f"modelyard runs compare {' '.join(r[:8] for r in children)}",
        f"modelyard models show {MODEL_NAME}",
        f"modelyard models diff {MODEL_NAME} 1 2",
    ):
        say("  ", (command, "cyan"))
    return children

