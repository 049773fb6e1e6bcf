"""``mlflow.sklearn`` under modelyard: ``log_model``, ``save_model``, ``load_model``, ``autolog``.

A thin façade over modelyard's scikit-learn flavor, so that a script moves over by renaming
``mlflow`` to ``modelyard``. ``load_model`` gives the estimator itself, as in MLflow;
``modelyard.load_model`` gives a model with a checked ``predict``.
"""

from __future__ import annotations

import os
from typing import Any

from modelyard.core.models import ModelInfo
from modelyard.flavors import Manifest
from modelyard.registry._autolog import autolog
from modelyard.registry._flavor_api import load_native, log_flavor_model, save_flavor_model

__all__ = ["autolog", "load_model", "log_model", "save_model"]


def log_model(sk_model: Any, artifact_path: str | None = None, **kwargs: Any) -> ModelInfo:
    """Log a fitted estimator or Pipeline in the active run (``name=`` or ``artifact_path``,
    ``input_example=``, ``signature=``, ``registered_model_name=``)."""
    return log_flavor_model("sklearn", sk_model, artifact_path, kwargs)


def save_model(sk_model: Any, path: str | os.PathLike[str], **kwargs: Any) -> Manifest:
    """Write a fitted estimator as a bundle folder at ``path``."""
    return save_flavor_model("sklearn", sk_model, path, kwargs)


def load_model(model_uri: str | os.PathLike[str], dst_path: Any = None) -> Any:
    """The estimator at ``models:/...`` or ``runs:/...``, verified before it is unpickled."""
    return load_native("sklearn", model_uri, dst_path)
