"""``mlflow.models`` under modelyard: ``infer_signature``, ``ModelSignature`` and ``evaluate``.

``infer_signature(X, model.predict(X))`` gives modelyard's ``Signature`` (input columns in
order with dtypes, output columns, and whether the model takes a DataFrame or an array).
"""

from __future__ import annotations

from modelyard.core.models import ModelInfo
from modelyard.core.signature import ColumnSpec, DType, Signature
from modelyard.flavors import infer_signature
from modelyard.registry import evaluate

ModelSignature = Signature

__all__ = [
    "ColumnSpec",
    "DType",
    "ModelInfo",
    "ModelSignature",
    "Signature",
    "evaluate",
    "infer_signature",
]
