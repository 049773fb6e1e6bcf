"""MLflow's per-flavor call shapes (``mlflow.sklearn.log_model``, ``mlflow.xgboost.load_model``
...) over the one ``log_model``/``save_model``/``load_model``.

The façade modules (``modelyard.sklearn``, ``modelyard.lightgbm``, ``modelyard.xgboost``,
``modelyard.onnx``, ``modelyard.pyfunc``) are thin: they name the flavor and pass the call
here. What this adds to the plain functions is MLflow's argument spelling, a check that the
model suits the flavor the caller named, and an error naming what to use instead for every
MLflow keyword modelyard does not offer.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from modelyard.core.errors import NotSupportedError, ValidationError
from modelyard.core.models import ModelInfo
from modelyard.flavors import Manifest, Model, get_flavor, save_model
from modelyard.registry import _fluent

# Keywords that only choose how MLflow stores the bytes: modelyard's flavor decides that
# (pickle for scikit-learn API models, the native format for Boosters) and hashes the
# result, so they change nothing and are accepted.
_STORAGE_ONLY = {"serialization_format", "model_format", "await_registration_for"}

# MLflow keywords modelyard does not offer, with what to do instead.
_UNSUPPORTED = {
    "pip_requirements": "modelyard records the framework's pinned requirements itself; to "
    "choose them, use modelyard.save_model(model, path, requirements=[...]) and register the folder",
    "extra_pip_requirements": "modelyard records the framework's pinned requirements itself; to "
    "choose them, use modelyard.save_model(model, path, requirements=[...]) and register the folder",
    "conda_env": "modelyard bundles list pip requirements, not conda environments; use "
    "modelyard.save_model(model, path, requirements=[...])",
    "code_paths": "a bundle holds the pickled model only; install your code as a package in the "
    "scoring environment",
    "metadata": "put free-form metadata in the version's tags: register_model(..., tags={...})",
    "model_config": "pass configuration to a PythonModel through its constructor or artifacts=",
    "example_no_conversion": "input examples are stored as given (a DataFrame, records or an "
    "array)",
    "prompts": "prompts are not registry objects in modelyard",
    "resources": "resources are a Databricks feature modelyard does not have",
    "auth_policy": "auth policies are a Databricks feature modelyard does not have",
    "model_id": "modelyard has no logged-model ids: a model is found by runs:/<run-id>/<path> or "
    "models:/<name>/<version>",
}

# Storage choices MLflow offers that modelyard refuses rather than ignores.
_REFUSED_VALUES = {
    ("serialization_format", "skops"): "modelyard pickles scikit-learn models and verifies "
    "their sha256 against the registry before anything is unpickled; drop "
    "serialization_format='skops'",
}


def mlflow_kwargs(function: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` of an MLflow-shaped call with MLflow's spellings mapped, storage-only
    keywords dropped, and a NotSupportedError for the keywords modelyard does not offer."""
    for (key, value), reason in _REFUSED_VALUES.items():
        if kwargs.get(key) == value:
            raise NotSupportedError(f"{function}({key}={value!r}) is not supported: {reason}")
    unsupported = [k for k in kwargs if k in _UNSUPPORTED and kwargs[k] is not None]
    if unsupported:
        key = unsupported[0]
        raise NotSupportedError(
            f"{function}({key}=...) is an MLflow option modelyard does not offer: {_UNSUPPORTED[key]}"
        )
    return {
        k: v
        for k, v in kwargs.items()
        if k not in _STORAGE_ONLY and not (k in _UNSUPPORTED and v is None)
    }


def _path_args(function: str, artifact_path: str | None, kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """The artifact path as a positional argument: ``artifact_path`` or MLflow 3's ``name``."""
    name = kwargs.pop("name", None)
    if name is not None and artifact_path is not None and name != artifact_path:
        raise ValidationError(
            f"{function} got artifact_path={artifact_path!r} and name={name!r}; give one "
            "(name= is MLflow 3's spelling of artifact_path=)"
        )
    chosen = artifact_path if artifact_path is not None else name
    return () if chosen is None else (chosen,)


def check_flavor(flavor: str, model: Any, function: str) -> None:
    """Refuse a model the named flavor cannot save, pointing at the right module."""
    if get_flavor(flavor).handles(model):
        return
    kind = f"{type(model).__module__}.{type(model).__qualname__}"
    raise ValidationError(
        f"{function} got a {kind}, which is not a {flavor} model; log it with "
        "modelyard.log_model (which picks the flavor from the model) or the module of its "
        "framework (modelyard.sklearn, .lightgbm, .xgboost, .onnx, .pyfunc)"
    )


def log_flavor_model(
    flavor: str, model: Any, artifact_path: str | None, kwargs: dict[str, Any]
) -> ModelInfo:
    """``mlflow.<flavor>.log_model(model, artifact_path | name=..., ...)``."""
    function = f"modelyard.{flavor}.log_model"
    check_flavor(flavor, model, function)
    rest = mlflow_kwargs(function, dict(kwargs))
    return _fluent.log_model(model, *_path_args(function, artifact_path, rest), **rest)


def save_flavor_model(
    flavor: str, model: Any, path: str | os.PathLike[str], kwargs: dict[str, Any]
) -> Manifest:
    """``mlflow.<flavor>.save_model(model, path, ...)``: a bundle folder at ``path``."""
    function = f"modelyard.{flavor}.save_model"
    check_flavor(flavor, model, function)
    rest = mlflow_kwargs(function, dict(kwargs))
    # save_model picks the flavor from the model, as log_model does: an LGBMClassifier
    # saved through modelyard.sklearn is a lightgbm bundle, loaded back as the same object
    return save_model(model, path, **rest)


_SKLEARN_API = {"sklearn", "lightgbm", "xgboost"}


def load_native(flavor: str, model_uri: str | os.PathLike[str], dst_path: Any = None) -> Any:
    """``mlflow.<flavor>.load_model(uri)``: the framework's own object (an estimator, a
    Booster, an ONNX graph), verified and loaded like any registered model."""
    check_dst_path(f"modelyard.{flavor}.load_model", dst_path)
    model = _fluent.load_model(model_uri)
    raw = native_of(model, flavor)
    if flavor == "onnx":  # the flavor holds an onnxruntime session; MLflow gives the graph
        import onnx

        name = model.manifest.flavor_config.get("model_file", "model.onnx")
        digest = model.manifest.files.get(name)
        if digest is None:
            raise ValidationError(f"{model.uri} lists no ONNX file {name!r}")
        return onnx.load_model_from_string(_fluent.get_client().blobs.get_bytes(digest))
    return raw


def check_dst_path(function: str, dst_path: Any) -> None:
    if dst_path is not None:
        raise NotSupportedError(
            f"{function}(dst_path=...) is not supported: modelyard loads models from its own "
            "verified cache; to get a copy of the files, run `modelyard models export URI DIR`"
        )


def native_of(model: Model, flavor: str) -> Any:
    """The framework object inside a loaded model, when it is of ``flavor``."""
    found = model.manifest.flavor
    if found == flavor:
        return model.raw
    if flavor == "sklearn" and found in _SKLEARN_API and get_flavor("sklearn").handles(model.raw):
        return model.raw  # an LGBMClassifier or XGBClassifier is a scikit-learn estimator
    raise ValidationError(
        f"{model.uri or 'the model'} is a {found} model, not {flavor}; load it with "
        f"modelyard.{'pyfunc' if found == 'python' else found}.load_model, or "
        "modelyard.pyfunc.load_model for the common predict()"
    )


def artifacts_of(artifacts: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """PythonModel artifacts as local paths; MLflow also accepts URIs, which modelyard does not."""
    for name, value in (artifacts or {}).items():
        if isinstance(value, str) and "://" in value and not value.startswith("file://"):
            raise NotSupportedError(
                f"artifacts[{name!r}] is the URI {value[:80]!r}; modelyard copies local files "
                "into the bundle: download it first (modelyard.download_artifacts)"
            )
    return artifacts
