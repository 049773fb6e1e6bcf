"""Conversion of scikit-learn, LightGBM and XGBoost models to ONNX, kept only when the ONNX
graph reproduces the original's output on the input example."""

from __future__ import annotations

import copy
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modelyard.core.extras import require
from modelyard.flavors._base import Flavor

TOLERANCE = 1e-4
OPSET = 15


@dataclass(frozen=True)
class Conversion:
    model: Any | None  # an onnx.ModelProto, or None when it was not kept
    max_abs_diff: float | None
    reason: str


def _convert(model: Any, flavor: str, width: int) -> Any:
    if flavor == "sklearn":
        from skl2onnx import convert_sklearn
        from skl2onnx.common.data_types import FloatTensorType

        types = [("input", FloatTensorType([None, width]))]
        return convert_sklearn(
            model,
            initial_types=types,
            options={"zipmap": False},
            target_opset={"": OPSET, "ai.onnx.ml": 3},
        )
    import onnxmltools
    from onnxmltools.convert.common.data_types import FloatTensorType as MlFloat

    types = [("input", MlFloat([None, width]))]
    if flavor == "lightgbm":
        return onnxmltools.convert_lightgbm(
            model, initial_types=types, zipmap=False, target_opset=OPSET
        )
    if flavor == "xgboost":
        # the converter reads features as f0, f1, ...: convert a copy without the names
        anonymous = copy.deepcopy(model)
        booster = (
            anonymous
            if hasattr(anonymous, "feature_names") and not hasattr(anonymous, "get_booster")
            else anonymous.get_booster()
        )
        booster.feature_names = None
        booster.feature_types = None
        return onnxmltools.convert_xgboost(anonymous, initial_types=types, target_opset=OPSET)
    raise ValueError(f"no ONNX converter for the {flavor} flavor")


def convert_checked(model: Any, flavor: Flavor, example: Any) -> Conversion:
    """Convert ``model`` and compare the ONNX output with the original on ``example``."""
    for package in ("onnxruntime", "skl2onnx" if flavor.name == "sklearn" else "onnxmltools"):
        require(package, "Conversion to ONNX")  # missing converters are not a failed conversion
    from modelyard.flavors._onnx import FLAVOR as ONNX
    from modelyard.flavors._onnx import session

    array = np.asarray(example, dtype=np.float32)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            converted = _convert(model, flavor.name, array.shape[1])
    except Exception as error:
        return Conversion(
            None, None, f"conversion failed: {type(error).__name__}: {str(error)[:200]}"
        )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.onnx"
        path.write_bytes(converted.SerializeToString())
        sess = session(path)
        original = flavor.predict_proba(model, example)
        if original is not None:
            candidate = ONNX.predict_proba(sess, array)
        else:
            original, candidate = flavor.predict(model, example), ONNX.predict(sess, array)
    if candidate is None or np.shape(candidate) != np.shape(original):
        return Conversion(None, None, "the ONNX graph's output has another shape than the model's")
    diff = float(
        np.max(np.abs(np.asarray(candidate, dtype=float) - np.asarray(original, dtype=float)))
    )
    if diff > TOLERANCE:
        return Conversion(
            None, diff, f"outputs differ by {diff:.2e} on the input example (tolerance {TOLERANCE})"
        )
    return Conversion(converted, diff, "outputs match on the input example")
