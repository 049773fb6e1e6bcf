"""The demo's training pipeline: training set from the feature store → two candidates
(logistic regression, gradient boosting), each a tracked run registered as a version →
the best one, if it beats the champion on held-out recent data, promoted through the gate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from modelyard.core.errors import GateFailedError
from modelyard.demo._credit_data import FEATURES, TARGET
from modelyard.pipelines import pipeline, step

MODEL = "credit"
GATE = {
    "checks": [
        {"metric": "holdout_auc", "min": 0.70},
        {"latency_ms": 50},
        {"card": ["intended_use", "limitations"]},
    ]
}
CARD = {
    "intended_use": "Demo: ranks generated credit applications by default risk for manual review.",
    "limitations": "Trained on generated data; retrained when drift or an AUC drop is detected.",
}


def _outcomes(repo: str, weeks: list[int]) -> pd.DataFrame:
    folder = Path(repo) / "data" / "outcomes"
    frames = [pd.read_parquet(folder / f"week-{w:02d}.parquet") for w in weeks]
    return pd.concat(frames, ignore_index=True).sort_values("event_timestamp", kind="stable")


@step
def labelled_rows(repo: str, weeks: list[int], holdout_share: float = 0.25) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The outcomes known for ``weeks``: the latest ``holdout_share`` (by time) held out."""
    rows = _outcomes(repo, weeks)
    cut = int(len(rows) * (1 - holdout_share))
    return rows.iloc[:cut].reset_index(drop=True), rows.iloc[cut:].reset_index(drop=True)


def _features(repo: str, store_uri: str, rows: pd.DataFrame, name: str) -> pd.DataFrame:
    from modelyard.features import FeatureStore

    store = FeatureStore(repo_path=repo, tracking_uri=store_uri)
    return store.get_historical_features(rows, store.get_feature_service("credit_v1"), dataset_name=name).to_df()


@step
def train(split: tuple[pd.DataFrame, pd.DataFrame], kind: str, repo: str, store_uri: str) -> str:
    """Fit one candidate on the training rows (features looked up point-in-time), score it on
    the held-out rows, register it. Returns its models:/ URI."""
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss, roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    import modelyard
    from modelyard import registry

    rows, holdout = split
    modelyard.set_tracking_uri(store_uri)
    modelyard.set_experiment("credit-demo")
    model: Any = (
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
        if kind == "logistic"
        else GradientBoostingClassifier(n_estimators=80, max_depth=3, random_state=0)
    )
    test = _features(repo, store_uri, holdout, "credit-holdout")  # before the run: not its training input
    with modelyard.start_run(run_name=f"{kind}-{len(rows)}rows"):
        modelyard.log_params({"kind": kind, "rows": len(rows), "features": ",".join(FEATURES)})
        train_set = _features(repo, store_uri, rows, "credit-training-set")  # recorded as the run's training input
        model.fit(train_set[FEATURES], train_set[TARGET])
        proba = model.predict_proba(test[FEATURES])[:, 1]
        modelyard.log_metrics(
            {
                "holdout_auc": float(roc_auc_score(test[TARGET], proba)),
                "holdout_log_loss": float(log_loss(test[TARGET], np.clip(proba, 1e-6, 1 - 1e-6))),
                "train_default_rate": float(train_set[TARGET].mean()),
            }
        )
        version = registry.log_model(
            model, "model", registered_model_name=MODEL, input_example=train_set[FEATURES].head(5), card=CARD,
            risk_category="limited", description=f"{kind} trained on {len(rows)} labelled applications",
        )
    assert not isinstance(version, str)
    return version.uri


@step(cache=False)
def promote(candidates: list[str], split: tuple[pd.DataFrame, pd.DataFrame], repo: str, store_uri: str) -> dict[str, Any]:
    """The best candidate on the held-out rows becomes champion if it beats the current
    champion there (or there is none), through the model's gate."""
    from sklearn.metrics import roc_auc_score

    from modelyard.registry import Client

    client = Client(store_uri)
    client.set_model_gate(MODEL, GATE)
    holdout = _features(repo, store_uri, split[1], "credit-holdout")
    scores: dict[str, float] = {}
    for uri in candidates:
        model = client.load_model(uri)
        scores[uri] = float(roc_auc_score(holdout[TARGET], model.predict_proba(holdout[FEATURES])[:, 1]))
    best = max(scores, key=lambda u: scores[u])
    peek = client.peek(f"models:/{MODEL}@champion")
    champion_auc = None
    if peek is not None:
        champion = client.load_model(f"models:/{MODEL}/{peek[0]}")
        champion_auc = float(roc_auc_score(holdout[TARGET], champion.predict_proba(holdout[FEATURES])[:, 1]))
    outcome: dict[str, Any] = {"candidates": scores, "best": best, "champion_auc": champion_auc, "promoted": None}
    if champion_auc is not None and scores[best] < champion_auc + 0.01:
        outcome["reason"] = f"{best} ({scores[best]:.3f}) does not beat the champion ({champion_auc:.3f})"
        return outcome
    try:
        client.promote(MODEL, int(best.rsplit("/", 1)[1]), reason="credit demo retraining")
        outcome["promoted"] = best
    except GateFailedError as refused:
        outcome["reason"] = str(refused)
    return outcome


@pipeline
def retrain(repo: str, weeks: list[int], store_uri: str) -> Any:
    split = labelled_rows(repo, weeks)
    candidates = [train(split, kind, repo, store_uri) for kind in ("logistic", "gbm")]
    return promote(candidates, split, repo, store_uri)
