"""Bring an MLflow model folder (MLmodel format) into a modelyard bundle.

Reads the ``MLmodel`` file's flavors (scikit-learn, or python_function with a
cloudpickled model), its signature and its input example. Converting means loading the
model: a pickle (cloudpickle or pickle) is loaded only with ``trusted=True``, the caller's
word that the folder is theirs, as for ``load_model`` of a folder. A skops file loads
without it when skops trusts every type in it (skops' own check stays on). Every file the
``MLmodel`` names must lie inside the folder.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import cloudpickle
import pandas as pd
import yaml

from modelyard.artifacts import path_inside
from modelyard.core.errors import MissingDependencyError, UntrustedModelError, ValidationError
from modelyard.core.signature import ColumnSpec, DType, InputKind, Signature
from modelyard.flavors import PythonModel

_MLFLOW_TYPES = {
    "boolean": DType.BOOL,
    "integer": DType.INT32,
    "long": DType.INT64,
    "float": DType.FLOAT32,
    "double": DType.FLOAT64,
    "string": DType.STRING,
    "datetime": DType.DATETIME,
}
_TENSOR_TYPES = {
    "float64": DType.FLOAT64,
    "float32": DType.FLOAT32,
    "int64": DType.INT64,
    "int32": DType.INT32,
    "bool": DType.BOOL,
}


def is_mlflow_model(folder: Path) -> bool:
    return (folder / "MLmodel").is_file()


def _columns(spec: str | None, role: str) -> tuple[tuple[ColumnSpec, ...], InputKind]:
    if not spec:
        return (), InputKind.DATAFRAME
    items = json.loads(spec)
    columns: list[ColumnSpec] = []
    kind = InputKind.DATAFRAME
    for i, item in enumerate(items):
        if item.get("type") == "tensor":
            kind = InputKind.NDARRAY
            dtype = _TENSOR_TYPES.get(item["tensor-spec"]["dtype"])
            if dtype is None:
                raise ValidationError(
                    f"MLmodel {role} tensor dtype {item['tensor-spec']['dtype']!r} is not supported"
                )
            width = item["tensor-spec"]["shape"][-1] if len(item["tensor-spec"]["shape"]) > 1 else 1
            columns.extend(ColumnSpec(f"f{j}", dtype) for j in range(int(width)))
            continue
        dtype = _MLFLOW_TYPES.get(item.get("type", ""))
        if dtype is None:
            raise ValidationError(
                f"MLmodel {role} column {item.get('name', i)!r} has type {item.get('type')!r}, which modelyard cannot map"
            )
        columns.append(
            ColumnSpec(
                str(item.get("name", f"f{i}")), dtype, optional=not item.get("required", True)
            )
        )
    return tuple(columns), kind


def read_mlmodel(folder: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load((folder / "MLmodel").read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ValidationError(f"{str(folder / 'MLmodel')!r} is not valid YAML: {error}") from error
    if not isinstance(data, dict) or "flavors" not in data:
        raise ValidationError(
            f"{str(folder / 'MLmodel')!r} has no 'flavors' section; it is not an MLflow model"
        )
    return data


def signature_of(mlmodel: dict[str, Any]) -> Signature | None:
    spec = mlmodel.get("signature")
    if not spec:
        return None
    inputs, kind = _columns(spec.get("inputs"), "input")
    outputs, _ = _columns(spec.get("outputs"), "output")
    return Signature(inputs=inputs, outputs=outputs, input_kind=kind)


def input_example_of(folder: Path, mlmodel: dict[str, Any]) -> pd.DataFrame | None:
    info = mlmodel.get("saved_input_example_info")
    if not info:
        return None
    path = _inside(folder, info.get("artifact_path", "input_example.json"), "input example")
    if not path.is_file():
        return None
    payload = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(payload, dict) and "columns" in payload:
        return pd.DataFrame(payload["data"], columns=payload["columns"])
    if isinstance(payload, dict) and "inputs" in payload:
        return pd.DataFrame(payload["inputs"])
    if isinstance(payload, list):
        return pd.DataFrame(payload)
    return None


def _inside(folder: Path, name: object, what: str) -> Path:
    """``folder / name``, refused unless it stays inside the MLflow folder."""
    if not isinstance(name, str):
        raise ValidationError(f"MLmodel: the {what} path must be a string, got {type(name).__name__}")
    return path_inside(folder, name, f"MLmodel {what} path")


def _untrusted(folder: Path, what: str) -> UntrustedModelError:
    return UntrustedModelError(
        f"registering the MLflow model {str(folder)!r} means loading {what}, and unpickling it "
        "could run arbitrary code; pass trusted=True (modelyard models register --trusted) if "
        "you made it or trust its source"
    )


def _load_skops(model_file: Path, folder: Path, trusted: bool) -> Any:
    try:
        import skops.io
    except ImportError as error:
        raise MissingDependencyError(
            "skops", "mlflow", "Importing an MLflow model saved with skops"
        ) from error
    untrusted = skops.io.get_untrusted_types(file=model_file)
    if untrusted and not trusted:
        shown = ", ".join(str(t)[:80] for t in untrusted[:5])
        raise UntrustedModelError(
            f"the skops file of the MLflow model {str(folder)!r} holds types skops does not trust "
            f"({shown}); loading them can crash or run code. Pass trusted=True "
            "(modelyard models register --trusted) if you made it or trust its source"
        )
    # without trusted=True, skops' defaults decide (and refuse anything else at load, too)
    return skops.io.load(model_file, trusted=untrusted if trusted else None)


def load_mlflow_model(folder: Path, mlmodel: dict[str, Any], *, trusted: bool = False) -> Any:
    """The model object inside an MLflow folder (sklearn or cloudpickled python_function).

    Pickles load only with ``trusted=True``; otherwise UntrustedModelError, before any
    byte of them is read."""
    flavors = mlmodel["flavors"]
    if not isinstance(flavors, dict):
        raise ValidationError("MLmodel: 'flavors' must be a mapping of flavor names")
    if "sklearn" in flavors:
        model_file = _inside(
            folder, flavors["sklearn"].get("pickled_model", "model.pkl"), "pickled_model"
        )
        serialization = flavors["sklearn"].get("serialization_format", "cloudpickle")
        if serialization == "skops":  # MLflow 3's default for scikit-learn
            return _load_skops(model_file, folder, trusted)
        if not trusted:
            raise _untrusted(folder, f"its {serialization} file {model_file.name!r}")
        with open(model_file, "rb") as handle:
            if serialization == "cloudpickle":
                return cloudpickle.load(handle)
            return pickle.load(handle)  # the caller vouched for this folder (trusted=True)
    pyfunc = flavors.get("python_function", {})
    if "python_model" in pyfunc:
        python_model = _inside(folder, pyfunc["python_model"], "python_model")
        artifact_paths = {  # MLflow writes {name: {path: ..., uri: ...}}; older, {name: path}
            k: str(_inside(folder, v.get("path") if isinstance(v, dict) else v, f"artifacts.{k}"))
            for k, v in (pyfunc.get("artifacts") or {}).items()
        }
        if not trusted:
            raise _untrusted(folder, f"its cloudpickled python_model {python_model.name!r}")
        try:
            with open(python_model, "rb") as handle:
                inner = cloudpickle.load(handle)
        except ModuleNotFoundError as error:
            if (error.name or "").startswith("mlflow"):
                raise MissingDependencyError(
                    "mlflow",
                    None,
                    "Importing an MLflow python_function model (its class derives from mlflow's)",
                ) from error
            raise

        class _MlflowPythonModel(PythonModel):
            def __init__(self, wrapped: Any, artifacts: dict[str, str]) -> None:
                self.wrapped = wrapped
                self.mlflow_artifacts = artifacts

            def predict(self, model_input: Any, params: dict[str, Any] | None = None) -> Any:
                try:
                    return self.wrapped.predict(None, model_input)
                except TypeError:
                    return self.wrapped.predict(model_input)

        return _MlflowPythonModel(inner, artifact_paths)
    raise ValidationError(
        f"the MLflow model in {str(folder)!r} has flavors {sorted(flavors)}; modelyard imports "
        "'sklearn' and 'python_function' (with a python_model) models"
    )
