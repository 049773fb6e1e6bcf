"""Export a registered (or logged) model as a folder MLflow reads: an ``MLmodel`` with the
framework's own flavor and ``python_function``, the signature, the input example and the
requirements — what ``mlflow.pyfunc.load_model`` and ``mlflow models serve`` load.

The files come from the artifact store verified against the registry's sha256s, as for
loading. scikit-learn models keep their pickle (``serialization_format: pickle``; MLflow
then asks for ``MLFLOW_ALLOW_PICKLE_DESERIALIZATION=true``, as for its own); LightGBM
Boosters their text file; XGBoost models are written in XGBoost's own UBJSON/JSON format.
``PythonModel`` subclasses and ONNX graphs, which MLflow has no matching flavor for, are
scored by modelyard inside MLflow (``loader_module: modelyard.flavors._mlflow_pyfunc``, the
bundle in ``bundle/``), so that environment needs modelyard installed.

``format="bundle"`` writes the modelyard bundle itself (``modelyard.yaml`` and its files).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import yaml

from modelyard.core.errors import ValidationError
from modelyard.core.signature import ColumnSpec, DType, InputKind, Signature
from modelyard.core.uris import parse_runs_uri
from modelyard.flavors import (
    MANIFEST,
    Manifest,
    Model,
    load_verified,
    read_example,
    verified_manifest,
)
from modelyard.flavors._base import requirement, version_of
from modelyard.registry._client import Client
from modelyard.registry._loader import fetch_bundle

ExportFormat = Literal["mlflow", "bundle"]
FORMATS = ("mlflow", "bundle")

_COLUMN_TYPES = {
    DType.BOOL: "boolean",
    DType.INT32: "integer",
    DType.INT64: "long",
    DType.FLOAT32: "float",
    DType.FLOAT64: "double",
    DType.STRING: "string",
    DType.DATETIME: "datetime",
}
_TENSOR_TYPES = {
    DType.BOOL: "bool",
    DType.INT32: "int32",
    DType.INT64: "int64",
    DType.FLOAT32: "float32",
    DType.FLOAT64: "float64",
    DType.STRING: "str",
    DType.DATETIME: "datetime64[ns]",
}


def _files_of(client: Client, model_uri: str) -> tuple[dict[str, tuple[str, int]], str | None]:
    """The recorded files of a ``models:/`` or ``runs:/`` URI, and the run that made it."""
    if model_uri.startswith("models:"):
        version = client.resolve(model_uri)
        return dict(version.files), version.run_id
    if model_uri.startswith("runs:"):
        parsed = parse_runs_uri(model_uri)
        return client._files_from_run(parsed.run_id, parsed.path), parsed.run_id
    raise ValidationError(
        f"model URI {model_uri[:200]!r} is not models:/<name>/<version>, models:/<name>@<alias> "
        "or runs:/<run-id>/<path>; only registered or logged models are exported"
    )


def _columns(specs: tuple[ColumnSpec, ...], named: bool) -> list[dict[str, Any]]:
    return [
        {
            "type": _COLUMN_TYPES[c.dtype],
            **({"name": c.name} if named else {}),
            "required": not c.optional,
        }
        for c in specs
    ]


def _tensor(specs: tuple[ColumnSpec, ...], width: bool) -> list[dict[str, Any]]:
    dtypes = {c.dtype for c in specs}
    dtype = dtypes.pop() if len(dtypes) == 1 else DType.FLOAT64
    shape = [-1, len(specs)] if width else [-1]
    return [{"type": "tensor", "tensor-spec": {"dtype": _TENSOR_TYPES[dtype], "shape": shape}}]


def mlflow_signature(signature: Signature) -> dict[str, Any]:
    """A modelyard signature in MLflow's MLmodel form (column specs, or one tensor for a
    model fitted on an array)."""
    if signature.input_kind is InputKind.NDARRAY:
        inputs = _tensor(signature.inputs, width=True)
        outputs = _tensor(signature.outputs, width=len(signature.outputs) > 1) if signature.outputs else None
    else:
        inputs = _columns(signature.inputs, named=True)
        named = len(signature.outputs) > 1
        outputs = _columns(signature.outputs, named=named) if signature.outputs else None
    return {
        "inputs": json.dumps(inputs),
        "outputs": None if outputs is None else json.dumps(outputs),
        "params": None,
    }


def _flavor_files(model: Model, bundle: Path, out: Path) -> dict[str, Any]:
    """Write the model in the files of MLflow's matching flavor; its ``flavors`` section."""
    manifest = model.manifest
    config = manifest.flavor_config
    version = manifest.framework_version
    if manifest.flavor == "sklearn":
        shutil.copy2(bundle / config.get("model_file", "model.pkl"), out / "model.pkl")
        return {
            "python_function": {
                "loader_module": "mlflow.sklearn",
                "model_path": "model.pkl",
                "predict_fn": "predict",
            },
            "sklearn": {
                "pickled_model": "model.pkl",
                "serialization_format": "pickle",
                "sklearn_version": version,
                "code": None,
            },
        }
    if manifest.flavor == "lightgbm":
        booster = config.get("kind") == "booster"
        data = "model.lgb" if booster else "model.pkl"
        shutil.copy2(bundle / config["model_file"], out / data)
        kind = type(model.raw)
        flavor: dict[str, Any] = {
            "data": data,
            "lgb_version": version,
            "model_class": "lightgbm.basic.Booster" if booster else f"{kind.__module__}.{kind.__qualname__}",
            "code": None,
        }
        if not booster:
            flavor["serialization_format"] = "pickle"
        return {
            "python_function": {"loader_module": "mlflow.lightgbm", "data": data},
            "lightgbm": flavor,
        }
    if manifest.flavor == "xgboost":
        booster = config.get("kind") == "booster"
        data = "model.json" if booster else "model.ubj"
        if booster:
            shutil.copy2(bundle / config["model_file"], out / data)
        else:
            model.raw.save_model(str(out / data))  # XGBoost's own format: no pickle
        kind = type(model.raw)
        return {
            "python_function": {"loader_module": "mlflow.xgboost", "data": data},
            "xgboost": {
                "data": data,
                "model_class": f"{kind.__module__}.{kind.__qualname__}",
                "model_format": "json" if booster else "ubj",
                "xgb_version": version,
                "code": None,
            },
        }
    # python and onnx: modelyard scores its own bundle inside MLflow
    shutil.copytree(bundle, out / "bundle")
    return {
        "python_function": {"loader_module": "modelyard.flavors._mlflow_pyfunc", "data": "bundle"}
    }


def _requirements(manifest: Manifest) -> list[str]:
    found = list(manifest.requirements)
    if manifest.flavor not in ("sklearn", "lightgbm", "xgboost"):
        found.append(requirement("modelyard"))
    return ["mlflow", *found]


def _write_example(folder: Path, bundle: Path, manifest: Manifest) -> dict[str, Any] | None:
    example = read_example(bundle, manifest)
    if example is None:
        return None
    if manifest.signature is not None and manifest.signature.input_kind is InputKind.NDARRAY:
        rows = example.to_numpy().tolist()
        (folder / "input_example.json").write_text(json.dumps(rows), encoding="utf-8")
        (folder / "serving_input_example.json").write_text(
            json.dumps({"inputs": rows}, indent=2), encoding="utf-8"
        )
        return {
            "artifact_path": "input_example.json",
            "serving_input_path": "serving_input_example.json",
            "type": "ndarray",
        }
    split = json.loads(example.to_json(orient="split", index=False, date_format="iso"))
    (folder / "input_example.json").write_text(json.dumps(split), encoding="utf-8")
    (folder / "serving_input_example.json").write_text(
        json.dumps({"dataframe_split": split}, indent=2), encoding="utf-8"
    )
    return {
        "artifact_path": "input_example.json",
        "pandas_orient": "split",
        "serving_input_path": "serving_input_example.json",
        "type": "dataframe",
    }


def _write_mlflow(
    model: Model, bundle: Path, out: Path, model_uri: str, run_id: str | None, digest: str
) -> None:
    manifest = model.manifest
    python = platform.python_version()
    flavors = _flavor_files(model, bundle, out)
    flavors["python_function"].update(
        {"env": {"conda": "conda.yaml", "virtualenv": "python_env.yaml"}, "python_version": python}
    )
    requirements = _requirements(manifest)
    (out / "requirements.txt").write_text("\n".join(requirements) + "\n", encoding="utf-8")
    (out / "python_env.yaml").write_text(
        yaml.safe_dump(
            {
                "python": python,
                "build_dependencies": ["pip", "setuptools", "wheel"],
                "dependencies": ["-r requirements.txt"],
            },
            sort_keys=False,
        ),
        encoding="utf-8",
    )
    (out / "conda.yaml").write_text(
        yaml.safe_dump(
            {
                "channels": ["conda-forge"],
                "dependencies": [f"python={python}", "pip", {"pip": requirements}],
                "name": "mlflow-env",
            },
            sort_keys=False,
        ),
        encoding="utf-8",
    )
    mlmodel: dict[str, Any] = {
        "artifact_path": model_uri.rsplit("/", 1)[-1] if model_uri.startswith("runs:") else None,
        "flavors": flavors,
        "model_uuid": uuid.uuid4().hex,
        "run_id": run_id,
        "utc_time_created": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f"),
        "metadata": {
            "exported_by": f"modelyard {version_of('modelyard')}",
            "modelyard_uri": model_uri,
            "modelyard_manifest_sha256": digest,
        },
    }
    example = _write_example(out, bundle, manifest)
    if example is not None:
        mlmodel["saved_input_example_info"] = example
    if manifest.signature is not None:
        mlmodel["signature"] = mlflow_signature(manifest.signature)
    (out / "MLmodel").write_text(yaml.safe_dump(mlmodel, sort_keys=False), encoding="utf-8")


def export_model(
    client: Client,
    model_uri: str,
    path: str | os.PathLike[str],
    format: ExportFormat | str = "mlflow",
) -> Path:
    """Write the model at ``model_uri`` (``models:/...`` or ``runs:/...``) to the new folder
    ``path``: MLflow's MLmodel layout (``format="mlflow"``) or the modelyard bundle
    (``"bundle"``). Written beside ``path`` and renamed into place: a failure leaves nothing."""
    if format not in FORMATS:
        raise ValidationError(f"export format {format!r} is not one of {list(FORMATS)}")
    target = Path(path)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ValidationError(
            f"cannot export to {str(target)!r}: it exists and is not an empty folder"
        )
    files, run_id = _files_of(client, model_uri)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        bundle = staging / "bundle"
        fetch_bundle(files, client.blobs, bundle, model_uri)  # every file verified
        expected = {name: digest for name, (digest, _) in files.items()}
        manifest = verified_manifest(bundle, expected, uri=model_uri, check_files=False)
        if format == "bundle":
            result = bundle
        else:
            result = staging / "mlflow"
            result.mkdir()
            model = load_verified(bundle, manifest, uri=model_uri)
            _write_mlflow(model, bundle, result, model_uri, run_id, files[MANIFEST][0])
        if target.exists():
            target.rmdir()
        os.replace(result, target)
        return target
    finally:
        shutil.rmtree(staging, ignore_errors=True)
