"""``mlflow.lightgbm`` under modelyard: ``log_model``, ``save_model``, ``load_model``, ``autolog``.

A thin façade over modelyard's lightgbm flavor. ``load_model`` gives the framework's own object
(a Booster (``lightgbm.train``) or an LGBMModel), as in MLflow.
"""

from __future__ import annotations

import os
from typing import Any

from modelyard.core.models import ModelInfo
from modelyard.flavors import Manifest
from modelyard.registry._autolog_lightgbm import autolog
from modelyard.registry._flavor_api import load_native, log_flavor_model, save_flavor_model

__all__ = ["autolog", "load_model", "log_model", "save_model"]


def log_model(lgb_model: Any, artifact_path: str | None = None, **kwargs: Any) -> ModelInfo:
    """Log a Booster (``lightgbm.train``) or an LGBMModel in the active run (``name=`` or ``artifact_path``,
    ``input_example=``, ``signature=``, ``registered_model_name=``)."""
    return log_flavor_model("lightgbm", lgb_model, artifact_path, kwargs)


def save_model(lgb_model: Any, path: str | os.PathLike[str], **kwargs: Any) -> Manifest:
    """Write the model as a bundle folder at ``path``."""
    return save_flavor_model("lightgbm", lgb_model, path, kwargs)


def load_model(model_uri: str | os.PathLike[str], dst_path: Any = None) -> Any:
    """The model at ``models:/...`` or ``runs:/...``, verified before it is loaded."""
    return load_native("lightgbm", model_uri, dst_path)
