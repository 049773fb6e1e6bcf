"""``mlflow.pyfunc`` under modelyard: ``PythonModel``, ``load_model``, ``log_model``, ``save_model``.

A thin façade: ``load_model`` gives a ``modelyard.Model`` (one checked ``predict`` for every
flavor, as MLflow's ``PyFuncModel``); ``log_model(python_model=...)`` logs a
``PythonModel`` subclass with its ``artifacts``. ``spark_udf`` and models from code are not
offered; their errors name what to use instead.
"""

from __future__ import annotations

import os
from typing import Any

from modelyard.core.errors import NotSupportedError, ValidationError
from modelyard.core.models import ModelInfo
from modelyard.flavors import Manifest, Model, ModelContext, PythonModel
from modelyard.registry._flavor_api import (
    artifacts_of,
    check_dst_path,
    log_flavor_model,
    save_flavor_model,
)
from modelyard.registry._fluent import load_model as _load_model

PythonModelContext = ModelContext
PyFuncModel = Model

__all__ = [
    "PyFuncModel",
    "PythonModel",
    "PythonModelContext",
    "load_model",
    "log_model",
    "save_model",
    "spark_udf",
]


def _python_model(python_model: Any, loader_module: Any, data_path: Any, function: str) -> Any:
    if loader_module is not None or data_path is not None:
        raise NotSupportedError(
            f"{function}(loader_module=..., data_path=...) is not supported: subclass "
            "modelyard.pyfunc.PythonModel and pass python_model=MyModel(), with its files in "
            "artifacts={...}"
        )
    if isinstance(python_model, str | os.PathLike):
        raise NotSupportedError(
            f"{function}(python_model={str(python_model)[:80]!r}): MLflow's models from code "
            "are not supported; pass an instance of a modelyard.pyfunc.PythonModel subclass"
        )
    if python_model is None:
        raise ValidationError(
            f"{function} needs python_model=, an instance of a modelyard.pyfunc.PythonModel "
            "subclass (to log a scikit-learn, LightGBM or XGBoost model, use modelyard.log_model)"
        )
    return python_model


def log_model(
    artifact_path: str | None = None,
    loader_module: Any = None,
    data_path: Any = None,
    *,
    python_model: Any = None,
    artifacts: dict[str, Any] | None = None,
    **kwargs: Any,
) -> ModelInfo:
    """Log a ``PythonModel`` in the active run (``name=`` or ``artifact_path``,
    ``artifacts=``, ``input_example=``, ``signature=``, ``registered_model_name=``)."""
    model = _python_model(python_model, loader_module, data_path, "modelyard.pyfunc.log_model")
    if artifacts is not None:
        kwargs["artifacts"] = artifacts_of(artifacts)
    return log_flavor_model("python", model, artifact_path, kwargs)


def save_model(
    path: str | os.PathLike[str],
    loader_module: Any = None,
    data_path: Any = None,
    *,
    python_model: Any = None,
    artifacts: dict[str, Any] | None = None,
    **kwargs: Any,
) -> Manifest:
    """Write a ``PythonModel`` (and its artifacts) as a bundle folder at ``path``."""
    model = _python_model(python_model, loader_module, data_path, "modelyard.pyfunc.save_model")
    if artifacts is not None:
        kwargs["artifacts"] = artifacts_of(artifacts)
    return save_flavor_model("python", model, path, kwargs)


def load_model(
    model_uri: str | os.PathLike[str],
    suppress_warnings: bool = False,
    dst_path: Any = None,
    model_config: Any = None,
    *,
    trusted: bool = False,
) -> Model:
    """The model at ``models:/name/3``, ``models:/name@alias`` or ``runs:/<id>/model``, with
    ``predict`` checked against its signature. A folder needs ``trusted=True``."""
    check_dst_path("modelyard.pyfunc.load_model", dst_path)
    if model_config is not None:
        raise NotSupportedError(
            "modelyard.pyfunc.load_model(model_config=...) is not supported: pass configuration "
            "to a PythonModel through its constructor or artifacts="
        )
    return _load_model(model_uri, trusted=trusted)


def spark_udf(*args: Any, **kwargs: Any) -> Any:
    """Not offered: score files in batch with ``modelyard score`` instead."""
    raise NotSupportedError(
        "modelyard.pyfunc.spark_udf is not supported: modelyard has no Spark UDF. Score a "
        "Parquet file or folder in batch with `modelyard score MODEL_URI INPUT -o OUTPUT` "
        "(chunked over every core, or `--engine ray` on a Ray cluster), or load the model with "
        "modelyard.pyfunc.load_model and call predict on each partition (mapInPandas)"
    )
