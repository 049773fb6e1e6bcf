"""The registry's Python API as a newcomer (and an MLflow user) calls it: keywords that are
checked, not swallowed; ``name=`` as in MLflow 3; ``reason=`` everywhere; evaluation by a slice
column the model does not take; a card that prints in one line."""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import modelyard as my


@pytest.fixture(scope="module")
def credit() -> tuple[pd.DataFrame, Any]:
    rng = np.random.default_rng(3)
    n = 400
    frame = pd.DataFrame(
        {
            "income": rng.normal(50, 10, n),
            "debt_ratio": rng.uniform(0, 1, n),
            "segment": rng.choice(["retail", "business"], n),
        }
    )
    frame["default"] = ((frame.debt_ratio - (frame.income - 50) / 40) > 0.5).astype(int)
    model = LogisticRegression().fit(frame[["income", "debt_ratio"]], frame["default"])
    return frame, model


def test_a_misspelt_keyword_to_log_model_is_a_type_error_naming_it(
    credit: tuple[pd.DataFrame, Any], fluent: str
) -> None:
    frame, model = credit
    with my.start_run() as run:
        with pytest.raises(TypeError, match="unexpected keyword argument 'bogus_kw'"):
            my.log_model(model, "m", bogus_kw=1)  # type: ignore[call-arg]
        with pytest.raises(TypeError, match="'descripton' \\(did you mean 'description'\\?\\)"):
            my.log_model(model, "m", registered_model_name="credit", descripton="x")  # type: ignore[call-arg]
        with pytest.raises(TypeError, match="got risk_category without registered_model_name="):
            my.log_model(model, "m", risk_category="high")
        client = my.Client()
        with pytest.raises(TypeError, match="unexpected keyword argument 'input_exmple'"):
            client.log_model(run.info.run_id, model, input_exmple=frame.head(2))  # type: ignore[call-arg]
    assert my.Client().list_artifacts(run.info.run_id) == []  # nothing was written
    with pytest.raises(TypeError, match="'tag' \\(did you mean 'tags'\\?\\)"):
        my.register_model(model, "credit", tag={"team": "risk"})  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected keyword argument 'stage'"):
        my.Client().register_model("credit", model, stage="Production")  # type: ignore[call-arg]
    with pytest.raises(my.NotFoundError):
        my.Client().get_registered_model("credit")  # nothing was registered either


def test_name_is_mlflow_3s_spelling_of_artifact_path(
    credit: tuple[pd.DataFrame, Any], fluent: str
) -> None:
    _, model = credit
    with my.start_run() as run:
        assert my.log_model(model, name="clf").model_uri == f"runs:/{run.info.run_id}/clf"
        assert my.log_model(model, artifact_path="other").model_uri == f"runs:/{run.info.run_id}/other"
        assert my.log_model(model).model_uri == f"runs:/{run.info.run_id}/model"
        with pytest.raises(TypeError, match="both artifact_path= and name="):
            my.log_model(model, "a", name="b")
        version = my.log_model(
            model, name="registered", registered_model_name="credit", description="first"
        ).model_version
    assert isinstance(version, my.ModelVersion)
    assert version.description == "first" and version.source.endswith("/registered")


def test_client_and_fluent_share_one_set_of_keywords() -> None:
    from modelyard.registry import _fluent
    from modelyard.registry._options import LogModelOptions, RegisterOptions

    for fluent_fn, method, options in (
        (_fluent.log_model, my.Client.log_model, LogModelOptions),
        (_fluent.register_model, my.Client.register_model, RegisterOptions),
    ):
        fluent_kwargs = inspect.signature(fluent_fn).parameters["options"]
        client_kwargs = inspect.signature(method).parameters["options"]
        assert fluent_kwargs.kind is client_kwargs.kind is inspect.Parameter.VAR_KEYWORD
        assert fluent_kwargs.annotation == client_kwargs.annotation == f"Unpack[{options.__name__}]"
    assert {"name", "registered_model_name", "input_example", "description"} <= set(
        LogModelOptions.__annotations__
    )


def test_evaluation_by_a_slice_column_the_model_does_not_take(
    credit: tuple[pd.DataFrame, Any], client: my.Client
) -> None:
    frame, model = credit
    client.register_model("credit", model, input_example=frame[["income", "debt_ratio"]].head(3))
    result = client.evaluate_model_version(
        "credit", 1, frame.assign(applicant_id=range(len(frame))), "default",
        slices={"segment": "segment"},
    )
    assert set(result.slices) == {"segment=business", "segment=retail"}
    assert result.metrics["count"] == len(frame)
    with pytest.raises(my.SchemaError, match="missing column 'debt_ratio'"):
        client.evaluate_model_version("credit", 1, frame.drop(columns=["debt_ratio"]), "default")


def test_approvals_take_a_reason_like_promote_and_archive(
    credit: tuple[pd.DataFrame, Any], client: my.Client
) -> None:
    _, model = credit
    client.register_model("credit", model)
    client.register_model("credit", model)
    first = client.approve_model_version("credit", 1, "Grace", reason="validated on Q3")
    assert first.approvals[0]["approver"] == "Grace" and first.approvals[0]["note"] == "validated on Q3"
    assert "validated on Q3" in client.get_audit_log("credit")[0].reason
    second = client.approve_model_version("credit", 2, approver="Ada", note="the old spelling")
    assert second.approvals[0]["note"] == "the old spelling"
    with pytest.raises(TypeError, match="both reason= and note="):
        client.approve_model_version("credit", 2, "Ada", reason="a", note="b")
    assert "approved by **Grace** on" in client.model_card("credit", 1).markdown


def test_a_card_prints_in_one_line_and_shows_itself_in_a_notebook(
    credit: tuple[pd.DataFrame, Any], client: my.Client
) -> None:
    frame, model = credit
    client.register_model("credit", model, input_example=frame[["income", "debt_ratio"]].head(3))
    card = client.model_card("credit", 1)
    text = repr(card)
    assert text.startswith("<Card models:/credit/1: ") and "KiB of HTML>" in text
    assert len(text) < 120 and "\n" not in text
    frame_html = card._repr_html_()
    assert frame_html.startswith("<iframe ") and 'srcdoc="&lt;!doctype html&gt;' in frame_html
