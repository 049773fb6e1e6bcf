"""``mlflow.onnx`` under modelyard: ``log_model``, ``save_model`` and ``load_model`` of ONNX graphs.

A thin façade over modelyard's onnx flavor. ``load_model`` gives the ``onnx.ModelProto``, as
in MLflow; ``modelyard.load_model`` scores it with onnxruntime.
To keep an ONNX twin of a scikit-learn, LightGBM or XGBoost model instead, log that model
with ``onnx=True`` and load it with ``engine="onnx"``.
"""

from __future__ import annotations

import os
from typing import Any

from modelyard.core.models import ModelInfo
from modelyard.flavors import Manifest
from modelyard.registry._flavor_api import load_native, log_flavor_model, save_flavor_model

__all__ = ["load_model", "log_model", "save_model"]


def log_model(onnx_model: Any, artifact_path: str | None = None, **kwargs: Any) -> ModelInfo:
    """Log an ``onnx.ModelProto`` in the active run."""
    return log_flavor_model("onnx", onnx_model, artifact_path, kwargs)


def save_model(onnx_model: Any, path: str | os.PathLike[str], **kwargs: Any) -> Manifest:
    """Write an ``onnx.ModelProto`` as a bundle folder at ``path``."""
    return save_flavor_model("onnx", onnx_model, path, kwargs)


def load_model(model_uri: str | os.PathLike[str], dst_path: Any = None) -> Any:
    """The ONNX model at ``models:/...`` or ``runs:/...``, verified before it is loaded."""
    return load_native("onnx", model_uri, dst_path)
