"""The demo's training pipeline: labelled rows with their features looked up point-in-time →
two candidates (logistic regression, gradient boosting), each a tracked run registered as a
version → the best one promoted through the gate, if it beats the champion on held-out data.

The cached steps take data, never a path: the first step reads the files (it always runs),
and what it read — by content — keys the steps after it. Rerunning the demo in the same
folder with other weeks, or on another day, rewrites the files; the steps that depend on
them run again, and those whose data did not change come from the cache.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from modelyard.core.errors import GateFailedError
from modelyard.demo._credit_data import FEATURES, TARGET
from modelyard.pipelines import pipeline, step

MODEL = "credit"
SERVICE = "credit_v1"
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
KINDS = ("logistic", "gbm")
# how much better on held-out rows a retrained candidate must be to replace the champion
MARGIN = 0.01


def _outcomes(repo: str, weeks: list[int]) -> pd.DataFrame:
    folder = Path(repo) / "data" / "outcomes"
    frames = [pd.read_parquet(folder / f"week-{w:02d}.parquet") for w in weeks]
    return pd.concat(frames, ignore_index=True).sort_values("event_timestamp", kind="stable")


@step(cache=False)
def training_data(repo: str, weeks: list[int], store_uri: str, holdout_share: float = 0.25) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The outcomes known for ``weeks`` with their features as of each application, split by
    time: the latest ``holdout_share`` held out. It reads files, so it always runs."""
    from modelyard.features import FeatureStore

    rows = _outcomes(repo, weeks)
    cut = int(len(rows) * (1 - holdout_share))
    store = FeatureStore(repo_path=repo, tracking_uri=store_uri)
    service = store.get_feature_service(SERVICE)
    train, holdout = (store.get_historical_features(part.reset_index(drop=True), service).to_df() for part in (rows.iloc[:cut], rows.iloc[cut:]))
    return train, holdout


@step
def train(data: tuple[pd.DataFrame, pd.DataFrame], kind: str, store_uri: str) -> str:
    """Fit one candidate on the training rows, score it on the held-out rows, register it.
    Returns its models:/ URI. Cached on the data itself."""
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss, roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    import modelyard
    from modelyard import registry

    train_set, test = data
    modelyard.set_tracking_uri(store_uri)
    modelyard.set_experiment("credit-demo")
    model: Any = (
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
        if kind == "logistic"
        else GradientBoostingClassifier(n_estimators=80, max_depth=3, random_state=0)
    )
    with modelyard.start_run(run_name=f"{kind}-{len(train_set)}rows"):
        modelyard.log_params({"kind": kind, "rows": len(train_set), "features": ",".join(FEATURES)})
        # the training set (features from the feature service) is the run's input: the
        # registered version's lineage, and the reference its monitoring compares against
        modelyard.log_input(
            modelyard.data.from_pandas(train_set, name="credit-training-set", source=f"features:{SERVICE}", targets=TARGET)
        )
        modelyard.set_tag("modelyard.feature_service", SERVICE)
        model.fit(train_set[FEATURES], train_set[TARGET])
        proba = model.predict_proba(test[FEATURES])[:, 1]
        modelyard.log_metrics(
            {
                "holdout_auc": float(roc_auc_score(test[TARGET], proba)),
                "holdout_log_loss": float(log_loss(test[TARGET], np.clip(proba, 1e-6, 1 - 1e-6))),
                "train_default_rate": float(train_set[TARGET].mean()),
            }
        )
        info = registry.log_model(
            model, "model", registered_model_name=MODEL, input_example=train_set[FEATURES].head(5), card=CARD,
            risk_category="limited", description=f"{kind} trained on {len(train_set)} labelled applications",
        )
    assert info.model_version is not None
    return info.model_version.uri


@step(cache=False)
def promote(candidates: list[str], data: tuple[pd.DataFrame, pd.DataFrame], store_uri: str, challenge: bool) -> dict[str, Any]:
    """The best candidate on the held-out rows becomes champion through the model's gate —
    when ``challenge``, only if it beats the current champion there by ``MARGIN``."""
    from sklearn.metrics import roc_auc_score

    from modelyard.registry import Client

    client = Client(store_uri)
    client.set_model_gate(MODEL, GATE)
    holdout = data[1]
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
    if challenge and champion_auc is not None and scores[best] < champion_auc + MARGIN:
        outcome["reason"] = f"{best} ({scores[best]:.3f}) does not beat the champion ({champion_auc:.3f}) by {MARGIN}"
        return outcome
    try:
        client.promote(MODEL, int(best.rsplit("/", 1)[1]), reason="credit demo retraining" if challenge else "credit demo: first models")
        outcome["promoted"] = best
    except GateFailedError as refused:
        outcome["reason"] = str(refused)
    return outcome


@pipeline
def retrain(repo: str, weeks: list[int], store_uri: str, challenge: bool = True) -> Any:
    data = training_data(repo, weeks, store_uri)
    candidates = [train(data, kind, store_uri) for kind in KINDS]
    return promote(candidates, data, store_uri, challenge)
