"""Signatures inferred from data; model input checked against them, naming the column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import modelyard
from modelyard.core.signature import DType, InputKind
from modelyard.flavors import enforce, infer_signature
from modelyard.flavors._signature import validate_example


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "income": [52_000.0, 61_000.5],
            "age": np.array([31, 45], dtype="int64"),
            "segment": ["retail", "sme"],
            "active": [True, False],
        }
    )


def test_inference_from_a_dataframe_and_predictions(frame: pd.DataFrame) -> None:
    signature = infer_signature(frame, np.array([0, 1]))
    assert [(c.name, c.dtype) for c in signature.inputs] == [
        ("income", DType.FLOAT64),
        ("age", DType.INT64),
        ("segment", DType.STRING),
        ("active", DType.BOOL),
    ]
    assert [(c.name, c.dtype) for c in signature.outputs] == [("prediction", DType.INT64)]
    assert signature.input_kind is InputKind.DATAFRAME
    assert type(signature).from_dict(signature.to_dict()) == signature


def test_inference_from_an_array() -> None:
    signature = infer_signature(np.zeros((3, 2), dtype="float32"))
    assert signature.input_names == ["f0", "f1"] and signature.input_kind is InputKind.NDARRAY
    assert list(enforce(signature, np.ones((1, 2))).columns) == ["f0", "f1"]


def test_good_input_is_reordered_and_ints_widen(frame: pd.DataFrame) -> None:
    signature = infer_signature(frame)
    shuffled = frame[["segment", "active", "age", "income"]].assign(income=[1, 2])
    out = enforce(signature, shuffled)
    assert list(out.columns) == ["income", "age", "segment", "active"]
    assert out["income"].dtype == "float64"
    records = enforce(signature, frame.to_dict(orient="records"))
    assert len(records) == 2


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.drop(columns=["age"]), "missing column 'age'"),
        (lambda f: f.assign(debt=1.0), "unexpected column 'debt'"),
        (lambda f: f.assign(income=["a lot", "little"]), "column 'income' must be float64, got "),
        (lambda f: f.assign(age=[31.5, 40.0]), "column 'age' must be int64, got float64"),
        (lambda f: f.iloc[0:0], "has no rows"),
    ],
)
def test_bad_input_names_the_column(frame: pd.DataFrame, change, message: str) -> None:  # type: ignore[no-untyped-def]
    signature = infer_signature(frame)
    with pytest.raises(modelyard.SchemaError, match=message):
        enforce(signature, change(frame))


def test_integral_floats_are_accepted_for_int_columns(frame: pd.DataFrame) -> None:
    signature = infer_signature(frame)
    out = enforce(signature, frame.assign(age=[31.0, 45.0]))
    assert out["age"].tolist() == [31, 45]


def test_an_example_that_disagrees_with_its_signature_is_refused(frame: pd.DataFrame) -> None:
    signature = infer_signature(frame)
    with pytest.raises(
        modelyard.ValidationError,
        match="the input example does not match the signature: .*missing column 'segment'",
    ):
        validate_example(signature, frame.drop(columns=["segment"]))
