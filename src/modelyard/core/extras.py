"""Optional packages, and the extra of ``pip install 'modelyard[...]'`` that installs each.

The one table a lazy import's error comes from: ``require("sklearn", "Evaluation")`` imports
scikit-learn or raises a MissingDependencyError (an ImportError) that names the package and
the extra. A test checks the table against ``pyproject.toml``, and hides each package to see
every backend that needs one say so.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from modelyard.core.errors import MissingDependencyError

# top-level import name -> (distribution on PyPI, extra that installs it)
EXTRAS: dict[str, tuple[str, str]] = {
    "sklearn": ("scikit-learn", "sklearn"),
    "lightgbm": ("lightgbm", "lightgbm"),
    "xgboost": ("xgboost", "xgboost"),
    "onnx": ("onnx", "onnx"),
    "onnxruntime": ("onnxruntime", "onnx"),
    "skl2onnx": ("skl2onnx", "onnx"),
    "onnxmltools": ("onnxmltools", "onnx"),
    "shap": ("shap", "explain"),
    "skops": ("skops", "mlflow"),
    "matplotlib": ("matplotlib", "plots"),
    "omegaconf": ("omegaconf", "config"),
    "ray": ("ray", "ray"),
    "pyspark": ("pyspark", "spark"),
    "croniter": ("croniter", "schedule"),
    "redis": ("redis", "redis"),
    "psycopg": ("psycopg", "postgres"),
    "s3fs": ("s3fs", "s3"),
    "gcsfs": ("gcsfs", "gcs"),
    "adlfs": ("adlfs", "azure"),
    "starlette": ("starlette", "serve"),
    "uvicorn": ("uvicorn", "serve"),
    "prometheus_client": ("prometheus-client", "serve"),
    "httpx": ("httpx", "demo"),
}


def missing(module: str, purpose: str, extra: str | None = None) -> MissingDependencyError:
    """The error for ``module`` not being importable; ``extra`` overrides the table's
    (the demo, say, installs everything it needs with ``modelyard[demo]``)."""
    root = module.split(".", 1)[0]
    package, default_extra = EXTRAS.get(root, (root, None))
    return MissingDependencyError(package, extra or default_extra, purpose)


def require(module: str, purpose: str, extra: str | None = None) -> ModuleType:
    """Import ``module`` (an optional package), or raise the MissingDependencyError naming
    the extra that installs it. ``purpose`` starts the message: "Evaluation needs ..."."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise missing(getattr(error, "name", None) or module, purpose, extra) from error
