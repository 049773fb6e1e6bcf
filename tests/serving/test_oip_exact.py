"""Open Inference Protocol v2 as the spec says it, checked with tritonclient; D7/D4/R12 input
mistakes answered 4xx before any work; models that refuse their input are 422, not 500."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin

from modelyard.core.errors import NoSignatureWarning
from modelyard.flavors import _bundle

from .conftest import Registered, Running

V2 = "/v2/models/cancer/infer"


def _v2_error(answer: Any, status: int) -> str:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert list(body) == ["error"] and isinstance(body["error"], str), body
    return str(body["error"])


def _tensor(shape: list[int], datatype: Any, data: Any, name: str = "x") -> dict[str, Any]:
    return {"inputs": [{"name": name, "shape": shape, "datatype": datatype, "data": data}]}


@pytest.fixture
def unsigned(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Register models as an older modelyard did: no example, no signature in the bundle."""
    monkeypatch.setattr(_bundle, "_declared_signature", lambda flavor, model: None)
    yield
    monkeypatch.undo()


def test_tritonclient_success_and_error_paths(
    registered: Registered, serve: Callable[..., Running]
) -> None:
    import tritonclient.http as triton
    from tritonclient.utils import InferenceServerException

    running = serve("models:/cancer@champion")
    client = triton.InferenceServerClient(url=running.base.removeprefix("http://"))
    versioned = client.get_model_metadata("cancer", model_version="1")
    assert versioned["versions"] == ["1"] and len(versioned["inputs"]) == 30
    assert versioned["inputs"][0] == {"name": "mean radius", "datatype": "FP64", "shape": [-1]}
    with pytest.raises(InferenceServerException) as missing_version:
        client.get_model_metadata("cancer", model_version="7")
    assert (
        missing_version.value.status() == "404" and "version '7'" in missing_version.value.message()
    )
    with pytest.raises(InferenceServerException) as missing_model:
        client.get_model_metadata("nope")
    assert "nope" in str(missing_model.value)  # str() works: the error is a string

    data = registered.X.head(2).to_numpy()
    tensor = triton.InferInput("input-0", [2, 29], "FP64")
    tensor.set_data_from_numpy(np.ascontiguousarray(data[:, :29]), binary_data=False)
    with pytest.raises(InferenceServerException) as wrong_width:
        client.infer("cancer", [tensor], model_version="1")
    assert wrong_width.value.status() == "400"
    assert "[rows, 30]" in wrong_width.value.message() and "input-0" in str(wrong_width.value)
    good = triton.InferInput("input-0", [2, 30], "FP64")
    good.set_data_from_numpy(data, binary_data=True)
    result = client.infer("cancer", [good], model_version="1")
    assert result.get_response()["model_version"] == "1"
    assert result.as_numpy("predict").shape == (2,)


def test_v2_routes_and_error_shapes(registered: Registered, serve: Callable[..., Running]) -> None:
    running = serve("models:/cancer@champion")
    http = running.http
    assert http.get("/v2/models/cancer/versions/1").json()["name"] == "cancer"
    assert "version" in _v2_error(http.get("/v2/models/cancer/versions/3"), 404)
    assert "'nope'" in _v2_error(http.get("/v2/models/nope/ready"), 404)
    assert "no route" in _v2_error(http.get("/v2/models/cancer/nothing"), 404)
    assert "not allowed" in _v2_error(http.get(V2), 405)
    row = registered.X.head(1).to_numpy()[0].tolist()
    answer = http.post("/v2/models/cancer/versions/1/infer", json=_tensor([1, 30], "FP64", row))
    assert answer.status_code == 200 and answer.json()["model_version"] == "1"
    # the native route keeps its richer error object (422 for schema mistakes)
    native = http.post("/v1/endpoints/cancer/predict", json={"records": [{"x": 1}]})
    assert native.status_code == 422 and native.json()["error"]["type"] == "SchemaError"


def test_d7_v2_mistakes_are_400_naming_the_field(
    registered: Registered, serve: Callable[..., Running]
) -> None:
    running = serve("models:/cancer@champion")
    http = running.http
    huge = _v2_error(http.post(V2, json=_tensor([2**62, 4], "FP64", [])), 400)
    assert "inputs[0].shape" in huge
    assert "inputs[0]" in _v2_error(
        http.post(V2, json=_tensor([1, 30], "INT8", [1000] + [1] * 29)), 400
    )
    assert "[-128, 127]" in _v2_error(
        http.post(V2, json=_tensor([1, 30], "INT8", [1000] + [1] * 29)), 400
    )
    assert "[0, 255]" in _v2_error(
        http.post(V2, json=_tensor([1, 30], "UINT8", [-1] + [1] * 29)), 400
    )
    assert "UINT64" in _v2_error(
        http.post(V2, json=_tensor([1, 30], "UINT64", [2**64] + [1] * 29)), 400
    )
    assert "whole numbers" in _v2_error(
        http.post(V2, json=_tensor([1, 30], "INT32", [1.5] + [1] * 29)), 400
    )
    assert "out of range" in _v2_error(
        http.post(V2, json=_tensor([1, 30], "FP16", [1e300] + [1.0] * 29)), 400
    )
    depth = 990
    deep = (
        '{"inputs":[{"name":"x","shape":[1,30],"datatype":"FP64","data":'
        + "[" * depth
        + "1"
        + "]" * depth
        + "}]}"
    )
    assert "nested deeper than its shape" in _v2_error(http.post(V2, content=deep.encode()), 400)
    mismatch = _v2_error(http.post(V2, json=_tensor([2, 30], "FP64", [0.0] * 30)), 400)
    assert "inputs[0]" in mismatch and "needs 60" in mismatch
    assert "inputs[0]" in _v2_error(http.post(V2, json=_tensor([1, 30], "FP64", ["a"] * 30)), 400)
    assert "boolean" in _v2_error(http.post(V2, json=_tensor([1, 30], "FP64", [True] * 30)), 400)
    assert "binary_data_size" in _v2_error(
        http.post(
            V2,
            json={
                "inputs": [
                    {
                        "name": "x",
                        "shape": [1, 30],
                        "datatype": "FP64",
                        "parameters": {"binary_data_size": -1},
                    }
                ]
            },
        ),
        400,
    )
    assert "datatype" in _v2_error(http.post(V2, json=_tensor([1, 30], ["FP64"], [0.0] * 30)), 400)
    assert "parameters" in _v2_error(
        http.post(
            V2,
            json={
                "inputs": [
                    {
                        "name": "x",
                        "shape": [1, 30],
                        "datatype": "FP64",
                        "parameters": [1],
                        "data": [0.0] * 30,
                    }
                ]
            },
        ),
        400,
    )
    long_name = "n" * 5000
    message = _v2_error(
        http.post(V2, json=_tensor([1, 29], "FP64", [0.0] * 29, name=long_name)), 400
    )
    assert long_name not in message and len(message) < 400
    assert 'status="500"' not in http.get("/metrics").text


def test_d4_rows_are_counted_from_the_shape_before_any_value_is_read(
    registered: Registered, serve: Callable[..., Running]
) -> None:
    running = serve("models:/cancer@champion")
    http = running.http
    # values that would fail conversion: the row limit answers first, so nothing was converted
    v2 = http.post(V2, json=_tensor([10_001, 1], "FP64", ["not a number"] * 10_001))
    assert "at most 10000" in _v2_error(v2, 413)
    native = http.post("/v1/endpoints/cancer/predict", json={"records": [{}] * 10_001})
    assert native.status_code == 413 and native.json()["error"]["type"] == "TooManyRows"
    columns = http.post(
        "/v1/endpoints/cancer/predict", json={"columns": {"mean radius": [None] * 10_001}}
    )
    assert columns.status_code == 413
    mlflow = http.post(
        "/invocations", json={"dataframe_split": {"columns": ["a"], "data": [["x"]] * 10_001}}
    )
    assert mlflow.status_code == 413
    csv = "a\n" + "x\n" * 10_001
    assert (
        http.post("/invocations", content=csv, headers={"content-type": "text/csv"}).status_code
        == 413
    )


def test_r12_a_boolean_for_a_float_column_is_refused(
    registered: Registered, serve: Callable[..., Running]
) -> None:
    running = serve("models:/cancer@champion")
    http = running.http
    row = registered.rows(1)[0]
    for body in ({"records": [{**row, "mean area": True}]}, {"records": [{k: True for k in row}]}):
        answer = http.post("/v1/endpoints/cancer/predict", json=body)
        assert answer.status_code == 422, answer.text
        assert (
            "boolean" in answer.json()["error"]["message"]
            and "column 'mean" in answer.json()["error"]["message"]
        )
    many = registered.rows(100)
    many[70] = {**many[70], "mean area": True}
    answer = http.post("/v1/endpoints/cancer/predict", json={"records": many})
    assert answer.status_code == 422 and "row 70" in answer.json()["error"]["message"]
    split = {"dataframe_split": {"columns": list(row), "data": [[*list(row.values())[:-1], False]]}}
    answer = http.post("/invocations", json=split)
    assert (
        answer.status_code == 422
        and "'worst fractal dimension'" in answer.json()["error"]["message"]
    )
    # a BOOL tensor for number columns is refused too
    assert "boolean" in _v2_error(http.post(V2, json=_tensor([1, 30], "BOOL", [True] * 30)), 400)


def test_metadata_and_tensors_for_a_model_registered_without_a_signature(
    registered: Registered, serve: Callable[..., Running], unsigned: None
) -> None:
    import tritonclient.http as triton
    from sklearn.linear_model import LogisticRegression

    X = registered.X[["mean radius", "mean texture", "mean area"]]
    model = LogisticRegression(max_iter=5000).fit(X, registered.y)
    with pytest.warns(NoSignatureWarning):
        registered.client.register_model("bare", model)
    running = serve("models:/bare/1")
    client = triton.InferenceServerClient(url=running.base.removeprefix("http://"))
    metadata = client.get_model_metadata("bare")
    assert [i["name"] for i in metadata["inputs"]] == ["mean radius", "mean texture", "mean area"]
    # one unnamed [N, 3] tensor maps onto the model's own columns, in order: the model gets a
    # DataFrame with its names (a frame named 0..2 would make scikit-learn refuse it)
    data = X.head(5).to_numpy()
    tensor = triton.InferInput("anything", [5, 3], "FP64")
    tensor.set_data_from_numpy(data, binary_data=False)
    with _no_feature_name_warning():
        result = client.infer("bare", [tensor])
    assert result.as_numpy("predict").tolist() == model.predict(X.head(5)).tolist()
    # named tensors are matched by name, in any order
    per_column = []
    for name in ["mean area", "mean radius", "mean texture"]:
        t = triton.InferInput(name, [5], "FP64")
        t.set_data_from_numpy(X[name].head(5).to_numpy(), binary_data=False)
        per_column.append(t)
    assert (
        client.infer("bare", per_column).as_numpy("predict").tolist()
        == model.predict(X.head(5)).tolist()
    )


class _no_feature_name_warning:
    """Fails if scikit-learn warns that it got no (or other) feature names."""

    def __enter__(self) -> None:
        import warnings

        self._catch = warnings.catch_warnings(record=True)
        self._seen = self._catch.__enter__()
        warnings.simplefilter("always")

    def __exit__(self, *exc: object) -> None:
        self._catch.__exit__(*exc)
        assert not [w for w in self._seen if "feature names" in str(w.message)]


class Opaque(ClassifierMixin, BaseEstimator):
    """An estimator that declares no schema (no feature_names_in_, no n_features_in_), wrapping
    one that validates its input: a model registered without a signature of any kind."""

    def __init__(self, inner: Any = None) -> None:
        self.inner = inner
        self.classes_ = None if inner is None else inner.classes_

    def predict(self, X: Any) -> Any:
        return self.inner.predict(X)

    def predict_proba(self, X: Any) -> Any:
        return self.inner.predict_proba(X)


def test_what_scikit_learn_lightgbm_and_xgboost_say_about_bad_input_is_a_rejection() -> None:
    import lightgbm
    import xgboost
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from modelyard.serving._scorer import model_rejection

    X = pd.DataFrame({"a": np.arange(40.0), "b": np.arange(40.0) % 7, "c": np.arange(40.0) % 3})
    y = (X.a > 20).astype(int)
    models = [
        make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y),
        lightgbm.LGBMClassifier(n_estimators=3, verbose=-1).fit(X, y),
        lightgbm.train({"verbose": -1}, lightgbm.Dataset(X, y), 2),
        xgboost.XGBClassifier(n_estimators=3).fit(X, y),
    ]
    bad_inputs = [
        np.ones((1, 2)),  # wrong column count
        pd.DataFrame({"a": [1.0], "b": [2.0], "d": [1.0]}),  # wrong names
        pd.DataFrame({"a": ["x"], "b": [2.0], "c": [1.0]}),  # wrong dtype
    ]
    said = []
    for model in models:
        for bad in bad_inputs:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # "X does not have valid feature names"
                    model.predict(bad)
            except Exception as error:
                said.append(model_rejection(error))
    assert said and all(s is not None and 0 < len(s) <= 300 and "\n" not in s for s in said), said
    assert model_rejection(RuntimeError("boom")) is None
    assert model_rejection(ValueError("a bug in user code")) is None


@pytest.mark.filterwarnings("ignore:X has feature names")
def test_only_failures_inside_a_well_formed_call_are_500s(
    registered: Registered, serve: Callable[..., Running], unsigned: None
) -> None:
    from sklearn.linear_model import LogisticRegression

    X = registered.X.iloc[:, :4].to_numpy()
    inner = LogisticRegression(max_iter=5000).fit(X, registered.y)
    with pytest.warns(NoSignatureWarning):
        registered.client.register_model("opaque", Opaque(inner))
    running = serve("models:/opaque/1")
    url = "/v1/endpoints/opaque/predict"
    wrong = running.http.post(url, json={"columns": {"a": [1.0], "b": [2.0], "c": [3.0]}})
    assert wrong.status_code == 422, wrong.text
    message = wrong.json()["error"]["message"]
    assert (
        message.startswith("the model rejected the input:")
        and "3 features" in message
        and len(message) < 400
    )
    v2 = running.http.post("/v2/models/opaque/infer", json=_tensor([1, 3], "FP64", [1.0, 2.0, 3.0]))
    assert "3 features" in _v2_error(v2, 400)
    ok = running.http.post(url, json={"columns": {"a": [1.0], "b": [2.0], "c": [3.0], "d": [4.0]}})
    assert ok.status_code == 200, ok.text
    assert ok.json()["predictions"] == inner.predict(np.array([[1.0, 2.0, 3.0, 4.0]])).tolist()
