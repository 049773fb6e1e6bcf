"""Aliases, audit, gates, risk, integrity and the registry's bad inputs, on every backend."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge

import modelyard as my
from modelyard.registry._loader import CACHE, cache_root


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.Series]:
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    return X, y


@pytest.fixture
def reg(client: my.Client, data: tuple[pd.DataFrame, pd.Series]) -> my.Client:
    X, y = data
    for alpha, r2 in [(1.0, 0.40), (0.1, 0.45), (10.0, 0.30)]:
        client.register_model(
            "diabetes",
            Ridge(alpha=alpha).fit(X, y),
            input_example=X.head(3),
            metrics={"r2": r2, "rmse": 60 - r2 * 10},
        )
    return client


def test_versions_aliases_and_uris(reg: my.Client) -> None:
    reg.set_registered_model_alias("diabetes", "champion", 1)
    reg.set_registered_model_alias("diabetes", "challenger", 2)
    assert reg.get_model_version_by_alias("diabetes", "champion").version == 1
    assert reg.resolve("models:/diabetes@challenger").version == 2
    assert reg.resolve("models:/diabetes/3").params == {}
    model = reg.get_registered_model("diabetes")
    assert model.aliases == {"champion": 1, "challenger": 2} and model.latest_version == 3
    assert reg.get_model_version("diabetes", 1).aliases == ["champion"]
    assert [v.version for v in reg.search_model_versions("name = 'diabetes'")] == [3, 2, 1]
    assert [m.name for m in reg.search_registered_models("name LIKE 'diab%'")] == ["diabetes"]
    reg.delete_registered_model_alias("diabetes", "challenger")
    with pytest.raises(
        my.NotFoundError,
        match="model 'diabetes' has no alias 'challenger'; its aliases are \\['champion'\\]",
    ):
        reg.get_model_version_by_alias("diabetes", "challenger")


def test_every_move_is_audited_and_rollback_is_moving_back(reg: my.Client) -> None:
    reg.set_registered_model_alias("diabetes", "champion", 1, reason="first")
    reg.set_registered_model_alias("diabetes", "champion", 2, reason="better")
    reg.set_registered_model_alias("diabetes", "champion", 1, reason="rollback: v2 misbehaved")
    reg.archive_model_version("diabetes", 3, reason="stale")
    moves = [
        (e.action, e.from_version, e.to_version, e.reason)
        for e in reversed(reg.get_audit_log("diabetes"))
        if e.alias == "champion"
    ]
    assert moves == [
        ("set_alias", None, 1, "first"),
        ("set_alias", 1, 2, "better"),
        ("set_alias", 2, 1, "rollback: v2 misbehaved"),
    ]
    archive = [e for e in reg.get_audit_log("diabetes") if e.action == "archive"]
    assert archive[0].version == 3 and archive[0].actor and archive[0].reason == "stale"


def test_unknown_things_are_named(reg: my.Client) -> None:
    with pytest.raises(my.NotFoundError, match="registered model 'nope' does not exist"):
        reg.get_model_version("nope", 1)
    with pytest.raises(my.NotFoundError, match="model 'diabetes' has no version 9"):
        reg.load_model("models:/diabetes/9")
    with pytest.raises(my.NotFoundError, match="no alias 'champion'; its aliases are none yet"):
        reg.load_model("models:/diabetes@champion")
    with pytest.raises(my.ValidationError, match="is not a model URI"):
        reg.load_model("models:diabetes")
    with pytest.raises(my.ValidationError, match="alias '3' is not valid"):
        reg.set_registered_model_alias("diabetes", "3", 1)


def test_promoting_to_an_archived_version_is_refused(reg: my.Client) -> None:
    reg.archive_model_version("diabetes", 2)
    with pytest.raises(my.InvalidStateError, match="version 2 of 'diabetes' is archived"):
        reg.promote("diabetes", 2)
    with pytest.raises(
        my.InvalidStateError, match="is archived; an alias can only point at an active version"
    ):
        reg.set_registered_model_alias("diabetes", "champion", 2)
    reg.set_registered_model_alias("diabetes", "champion", 1)
    with pytest.raises(
        my.InvalidStateError, match="is the target of alias champion; move or delete it first"
    ):
        reg.archive_model_version("diabetes", 1)


def test_gates_pass_refuse_and_can_be_forced_with_a_reason(reg: my.Client, tmp_path: Path) -> None:
    gate = tmp_path / "gate.yaml"
    gate.write_text(
        "checks:\n  - metric: r2\n    min: 0.35\n  - champion: r2\n    delta: 0.02\n  - metric: rmse\n    max: 56.9\n"
    )
    reg.set_model_gate("diabetes", gate)
    assert [c.passed for c in reg.promote("diabetes", 1)] == [True, True, True, True]
    results = reg.promote("diabetes", 2)  # better than the champion
    assert all(r.passed for r in results)
    with pytest.raises(my.GateFailedError, match="failed 3 of 4 gate checks") as refused:
        reg.promote("diabetes", 3)
    assert [c.check for c in refused.value.checks if not c.passed] == [
        "r2 >= 0.35",
        "r2 vs champion (tolerance 0.02)",
        "rmse <= 56.9",
    ]  # type: ignore[attr-defined]
    assert reg.get_model_version_by_alias("diabetes", "champion").version == 2
    with pytest.raises(my.ValidationError, match="a forced promotion needs a reason"):
        reg.promote("diabetes", 3, force=True)
    reg.promote("diabetes", 3, force=True, reason="regulator asked for the simpler model")
    last = reg.get_audit_log("diabetes")[0]
    assert (last.action, last.from_version, last.to_version) == ("promote_forced", 2, 3)
    assert last.reason == "regulator asked for the simpler model" and any(
        not c["passed"] for c in last.details["checks"]
    )


def test_gate_outcomes_read_as_what_happened(reg: my.Client, tmp_path: Path) -> None:
    """Newcomer bug 7: a failed champion check read "r2 within 0.02 of champion (0.3 vs
    0.45 (v2))", as if it had passed. Each outcome now states what was found."""
    reg.set_model_gate(
        "diabetes",
        {
            "checks": [
                {"metric": "r2", "min": 0.35},
                {"champion": "r2", "delta": 0.02},
                {"champion": "rmse", "delta": 0.4, "higher_is_better": False},
                {"metric": "rmse", "max": 56.9},
                {"card": ["intended_use"]},
            ]
        },
    )
    first = reg.promote("diabetes", 1, force=True, reason="no card yet")
    assert [c.detail for c in first] == [
        "risk category minimal allows promotion",
        "r2 0.4 meets >= 0.35",
        "r2 0.4; no champion yet, so nothing to compare with",
        "rmse 56; no champion yet, so nothing to compare with",
        "rmse 56 meets <= 56.9",
        "card fields intended_use are empty; fill them with update_model_version(..., card={...})",
    ]
    reg.update_model_version("diabetes", 2, card={"intended_use": "tests"})
    passed = reg.promote("diabetes", 2)
    assert [c.detail for c in passed[2:4]] == [
        "r2 0.45 is above champion v1's 0.4",
        "rmse 55.5 is below champion v1's 56",
    ]
    assert passed[-1].detail == "card fields intended_use are filled"
    reg.update_model_version("diabetes", 3, card={"intended_use": "tests"}, metrics={"r2": 0.44})
    close = {c.check: c.detail for c in reg.check_gate("diabetes", 3)}
    assert close["r2 vs champion (tolerance 0.02)"] == "r2 0.44 is within 0.02 of champion v2's 0.45"
    assert close["rmse vs champion (tolerance 0.4)"] == (
        "rmse 57 is more than 0.4 above champion v2's 55.5"
    )
    reg.update_model_version("diabetes", 3, metrics={"r2": 0.3})
    with pytest.raises(my.GateFailedError) as refused:
        reg.promote("diabetes", 3)
    assert str(refused.value) == (
        "version 3 of 'diabetes' failed 4 of 6 gate checks: r2 0.3 is below the minimum 0.35; "
        "r2 0.3 is more than 0.02 below champion v2's 0.45; rmse 57 is more than 0.4 above "
        "champion v2's 55.5; rmse 57 is above the maximum 56.9. Fix them, or override with "
        "force=True and a reason"
    )


def test_a_gate_with_a_typo_in_a_metric_name_says_which_metrics_exist(reg: my.Client) -> None:
    reg.set_model_gate("diabetes", {"checks": [{"metric": "r_2", "min": 0.3}]})
    with pytest.raises(
        my.ValidationError,
        match="the gate checks metric 'r_2', which version 1 does not have; its metrics are \\['r2', 'rmse'\\]",
    ):
        reg.promote("diabetes", 1)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"checks": [{"metirc": "auc", "min": 1}]}, "gate definition is not valid"),
        ({"checks": [{"metric": "auc"}]}, "needs a min or a max"),
        ({"checks": [{"card": ["intended_uses"]}]}, "unknown fields \\['intended_uses'\\]"),
        ({"checks": [{"latency_ms": -1}]}, "gate definition is not valid"),
    ],
)
def test_malformed_gates_are_refused(reg: my.Client, spec: dict[str, Any], message: str) -> None:
    with pytest.raises(my.ValidationError, match=message):
        reg.set_model_gate("diabetes", spec)


def test_high_risk_needs_a_full_card_and_an_approver(reg: my.Client) -> None:
    reg.update_model_version("diabetes", 1, risk_category="high")
    with pytest.raises(my.GateFailedError) as refused:
        reg.promote("diabetes", 1)
    failed = {c.check for c in refused.value.checks if not c.passed}  # type: ignore[attr-defined]
    assert failed == {"high risk: card complete", "high risk: named approver"}
    reg.update_model_version(
        "diabetes", 1, card={f: f"{f} text" for f in my.core.models.CARD_FIELDS}
    )  # type: ignore[attr-defined]
    reg.approve_model_version(
        "diabetes", 1, approver="Dr. Ada Lovelace", note="validated on Q3 data"
    )
    assert all(c.passed for c in reg.promote("diabetes", 1))
    card = reg.model_card("diabetes", 1)
    assert (
        "approved by **Dr. Ada Lovelace**" in card.markdown and "intended_use text" in card.markdown
    )


def test_unacceptable_risk_is_never_promoted(reg: my.Client) -> None:
    reg.update_model_version("diabetes", 2, risk_category="unacceptable")
    with pytest.raises(my.GateFailedError, match="unacceptable risk; it can never be promoted"):
        reg.promote("diabetes", 2, force=True, reason="please")


def test_cards_follow_the_metadata(reg: my.Client) -> None:
    assert "_No description._" in reg.model_card("diabetes", 1).markdown
    reg.update_model_version("diabetes", 1, description="Ridge on the diabetes data")
    assert "Ridge on the diabetes data" in reg.model_card("diabetes", 1).markdown
    with pytest.raises(my.ValidationError, match="card field 'purpose' is unknown"):
        reg.update_model_version("diabetes", 1, card={"purpose": "x"})


def test_a_tampered_blob_is_not_loaded(
    reg: my.Client, data: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    _X, _ = data
    version = reg.get_model_version("diabetes", 1)
    digest, _ = version.files["model.pkl"]
    blob = Path(reg.blobs.blob_path(digest))
    evil = pickle.dumps(Ridge())
    blob.write_bytes(evil)
    with pytest.raises(my.IntegrityError, match="corrupted"):
        reg.load_model("models:/diabetes/1")
    assert not (cache_root() / version.manifest_digest).exists()


def test_a_tampered_disk_cache_is_not_loaded_but_fetched_again(
    cached_client: my.Client, data: tuple[pd.DataFrame, pd.Series], caplog: pytest.LogCaptureFixture
) -> None:
    X, y = data
    reg = cached_client
    reg.register_model("diabetes", Ridge(alpha=1.0).fit(X, y), input_example=X.head(3))
    first = reg.load_model("models:/diabetes/1")
    assert reg.load_model("models:/diabetes/1") is first  # served from memory the second time
    expected = first.predict(X)
    CACHE.clear()
    version = reg.get_model_version("diabetes", 1)
    cached = cache_root() / version.manifest_digest / "model.pkl"
    registered = cached.read_bytes()
    cached.write_bytes(pickle.dumps(Ridge(alpha=5).fit(X, y)))
    with caplog.at_level("WARNING", logger="modelyard.registry"):
        healed = reg.load_model("models:/diabetes/1")
    assert "tampered with or corrupted" in caplog.text and "fetching it again" in caplog.text
    assert np.array_equal(healed.predict(X), expected)
    assert cached.read_bytes() == registered  # the cache holds the registered bytes again


def test_mlflow_model_folders_come_along(
    client: my.Client, data: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    """An MLflow sklearn model folder, laid out as MLflow writes it (MLmodel, model.pkl,
    input_example.json), registers with its signature and example."""
    import json

    import cloudpickle

    X, y = data
    model = Ridge().fit(X, y)
    folder = tmp_path / "mlflow-model"
    folder.mkdir()
    with open(folder / "model.pkl", "wb") as handle:
        cloudpickle.dump(model, handle)
    inputs = json.dumps([{"type": "double", "name": c, "required": True} for c in X.columns])
    outputs = json.dumps([{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1]}}])
    (folder / "MLmodel").write_text(
        "artifact_path: model\nflavors:\n  python_function:\n    env:\n      virtualenv: python_env.yaml\n"
        "    loader_module: mlflow.sklearn\n    model_path: model.pkl\n    predict_fn: predict\n    python_version: 3.11.7\n"
        "  sklearn:\n    code: null\n    pickled_model: model.pkl\n    serialization_format: cloudpickle\n    sklearn_version: 1.5.0\n"
        "mlflow_version: 2.16.0\nmodel_uuid: 0123\nsaved_input_example_info:\n  artifact_path: input_example.json\n  type: dataframe\n"
        f"signature:\n  inputs: '{inputs}'\n  outputs: '{outputs}'\n  params: null\n"
    )
    (folder / "input_example.json").write_text(
        json.dumps({"columns": list(X.columns), "data": X.head(2).values.tolist()})
    )
    with pytest.raises(my.UntrustedModelError, match="trusted=True"):
        client.register_model("from-mlflow", folder)  # converting it unpickles it
    version = client.register_model("from-mlflow", folder, trusted=True)
    assert version.source.startswith("mlflow:") and version.flavor == "sklearn"
    assert [c["name"] for c in version.signature["inputs"]] == list(X.columns)  # type: ignore[index]
    loaded = client.load_model(version.uri)
    assert np.allclose(loaded.predict(X), model.predict(X))
    with pytest.raises(my.SchemaError, match="missing column 'bmi'"):
        loaded.predict(X.drop(columns=["bmi"]))


def test_bad_version_numbers_and_names(client: my.Client) -> None:
    with pytest.raises(
        my.ValidationError, match="model version 'x' is not a positive whole number"
    ):
        client.get_model_version("m", "x")
    with pytest.raises(my.ValidationError, match="model name '../evil' is not valid"):
        client.register_model("../evil", Ridge())


def test_mlflow_3_skops_folders_come_along(
    client: my.Client, data: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    """MLflow 3 saves scikit-learn models with skops by default."""
    import json

    import skops.io

    X, y = data
    model = Ridge(alpha=2).fit(X, y)
    folder = tmp_path / "mlflow3"
    folder.mkdir()
    skops.io.dump(model, folder / "model.skops")
    (folder / "MLmodel").write_text(
        "flavors:\n  python_function:\n    loader_module: mlflow.sklearn\n    model_path: model.skops\n"
        "  sklearn:\n    pickled_model: model.skops\n    serialization_format: skops\n"
        "saved_input_example_info:\n  artifact_path: input_example.json\n  pandas_orient: split\n  type: dataframe\n"
    )
    (folder / "input_example.json").write_text(
        json.dumps({"columns": list(X.columns), "data": X.head(3).values.tolist()})
    )
    version = client.register_model("mlflow3", folder)
    assert [c["name"] for c in version.signature["inputs"]] == list(X.columns)  # type: ignore[index]
    assert np.allclose(client.load_model(version.uri).predict(X), model.predict(X))
