"""The three request formats, read into a ``Batch`` for a given model, and answers written
back in each protocol's shape.

* native: ``{"records": [{...}]}`` or ``{"columns": {"col": [...]}}`` (+ ``"explain": true``)
* MLflow scoring: ``dataframe_split``, ``dataframe_records``, ``instances``, ``inputs``;
  or a CSV body
* Open Inference Protocol v2: ``{"inputs": [{"name", "shape", "datatype", "data"}]}``, JSON
  or with the binary-tensor extension (``Inference-Header-Content-Length``)
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from modelyard.core.errors import SchemaError, ValidationError
from modelyard.http import parse_json
from modelyard.serving._inputs import Batch, InputSpec
from modelyard.serving._scorer import Output

NATIVE_KEYS = ("records", "columns")
MLFLOW_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")

# OIP datatypes -> NumPy
V2_DTYPES: dict[str, str] = {
    "BOOL": "bool",
    "UINT8": "uint8",
    "UINT16": "uint16",
    "UINT32": "uint32",
    "UINT64": "uint64",
    "INT8": "int8",
    "INT16": "int16",
    "INT32": "int32",
    "INT64": "int64",
    "FP16": "float16",
    "FP32": "float32",
    "FP64": "float64",
}


def jsonable(values: np.ndarray) -> Any:
    if values.dtype.kind in "fiub" and values.flags.c_contiguous:
        return values
    return values.tolist()


# -- native --------------------------------------------------------------------------------


def native_rows(body: Any) -> tuple[str, Any]:
    """('records'|'columns', payload) of a native request, checked for shape only."""
    if not isinstance(body, dict):
        raise ValidationError('request body must be a JSON object: {"records": [...]} or {"columns": {...}}')
    unknown = [k for k in body if k not in (*NATIVE_KEYS, "explain", "id")]
    if unknown:
        raise ValidationError(
            f"unknown field{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
            "a request has 'records' or 'columns', and optionally 'explain' and 'id'"
        )
    given = [k for k in NATIVE_KEYS if k in body]
    if len(given) != 1:
        raise ValidationError("give exactly one of 'records' (a list of objects) or 'columns' (column -> list)")
    if "explain" in body and not isinstance(body["explain"], bool):
        raise ValidationError("'explain' must be true or false")
    return given[0], body[given[0]]


def native_batch(spec: InputSpec, layout: str, payload: Any) -> Batch:
    if layout == "records":
        return spec.from_records(payload, "records")
    return spec.from_columns(payload, "columns")


def native_answer(out: Output) -> dict[str, Any]:
    answer: dict[str, Any] = {"predictions": jsonable(out.predictions)}
    if out.probabilities is not None:
        answer["probabilities"] = jsonable(out.probabilities)
        if out.classes is not None:
            answer["classes"] = out.classes
    return answer


# -- MLflow scoring ------------------------------------------------------------------------


def mlflow_payload(body: bytes, content_type: str) -> tuple[str, Any]:
    kind = content_type.split(";")[0].strip().lower()
    if kind in ("text/csv", "application/csv"):
        import pandas as pd

        try:
            frame = pd.read_csv(io.BytesIO(body))
        except Exception as error:
            raise ValidationError(f"CSV body could not be read: {str(error)[:200]}") from None
        return "dataframe_split", {"columns": [str(c) for c in frame.columns], "data": frame.to_numpy().tolist()}
    if kind not in ("application/json", ""):
        raise ValidationError(
            f"content type {kind!r} is not supported; send application/json or text/csv"
        )
    data = parse_json(body)
    if not isinstance(data, dict):
        raise ValidationError(f"request body must be a JSON object with one of {list(MLFLOW_KEYS)}")
    given = [k for k in MLFLOW_KEYS if k in data]
    if len(given) != 1:
        raise ValidationError(
            f"give exactly one of {list(MLFLOW_KEYS)} (MLflow's scoring formats); got {sorted(data)[:6]}"
        )
    extra = [k for k in data if k not in (*MLFLOW_KEYS, "params")]
    if extra:
        raise ValidationError(f"unknown field{'s' if len(extra) > 1 else ''} {', '.join(map(repr, extra))}")
    return given[0], data[given[0]]


def mlflow_batch(spec: InputSpec, key: str, payload: Any) -> Batch:
    if key == "dataframe_split":
        if not isinstance(payload, dict):
            raise SchemaError("'dataframe_split' must be an object with 'columns' and 'data'")
        if "columns" not in payload:
            if spec.signature is not None and isinstance(payload.get("data"), list):
                return spec.from_rows(payload["data"], "dataframe_split.data")
            raise SchemaError("'dataframe_split' needs 'columns' (names) and 'data' (rows)")
        return spec.from_split(payload.get("columns"), payload.get("data"), "dataframe_split")
    if key == "dataframe_records":
        return spec.from_records(payload, "dataframe_records")
    if key == "inputs" and isinstance(payload, dict):
        return spec.from_columns(payload, "inputs")
    return spec.from_rows(payload, key)


# -- Open Inference Protocol v2 ------------------------------------------------------------


def v2_request(body: bytes, header_length: str | None) -> tuple[dict[str, Any], list[np.ndarray]]:
    """The JSON part of an inference request and its input tensors as arrays."""
    binary = b""
    if header_length is not None:
        if not header_length.isdigit() or int(header_length) > len(body):
            raise ValidationError("Inference-Header-Content-Length must be the byte length of the JSON header")
        cut = int(header_length)
        body, binary = body[:cut], body[cut:]
    data = parse_json(body)
    if not isinstance(data, dict) or not isinstance(data.get("inputs"), list) or not data["inputs"]:
        raise ValidationError("an inference request needs 'inputs': a non-empty list of tensors")
    tensors: list[np.ndarray] = []
    offset = 0
    for i, item in enumerate(data["inputs"]):
        where = f"inputs[{i}]"
        if not isinstance(item, dict):
            raise ValidationError(f"{where} must be an object with name, shape, datatype and data")
        for key in ("name", "shape", "datatype"):
            if key not in item:
                raise ValidationError(f"{where} has no '{key}'")
        shape = item["shape"]
        if not isinstance(shape, list) or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape):
            raise ValidationError(f"{where}.shape must be a list of non-negative integers")
        datatype = item["datatype"]
        size = int(np.prod(shape)) if shape else 1
        params = item.get("parameters") or {}
        if not isinstance(params, dict):
            raise ValidationError(f"{where}.parameters must be an object")
        if "binary_data_size" in params:
            length = params["binary_data_size"]
            if not isinstance(length, int) or offset + length > len(binary):
                raise ValidationError(f"{where}.parameters.binary_data_size runs past the end of the body")
            chunk = binary[offset : offset + length]
            offset += length
            if datatype == "BYTES":
                array = _bytes_tensor(chunk, where)
            elif datatype in V2_DTYPES:
                dtype = np.dtype(V2_DTYPES[datatype])
                if length != size * dtype.itemsize:
                    raise ValidationError(f"{where}: {length} bytes do not hold shape {shape} of {datatype}")
                array = np.frombuffer(chunk, dtype=dtype)
            else:
                raise ValidationError(f"{where}.datatype {datatype!r} is not a known datatype")
        else:
            if "data" not in item:
                raise ValidationError(f"{where} has no 'data' (or binary_data_size)")
            if datatype == "BYTES":
                array = np.asarray(_flatten(item["data"]), dtype=object)
            elif datatype in V2_DTYPES:
                flat = _flatten(item["data"])
                if any(not isinstance(v, int | float) or v is None for v in flat):
                    bad = next(v for v in flat if not isinstance(v, int | float) or v is None)
                    raise SchemaError(f"{where} ({item['name']}): {datatype} data holds {bad!r}")
                array = np.asarray(flat, dtype=V2_DTYPES[datatype])
            else:
                raise ValidationError(
                    f"{where}.datatype {datatype!r} is not one of {[*V2_DTYPES, 'BYTES']}"
                )
        if array.size != size:
            raise SchemaError(f"{where} ({item['name']}): shape {shape} needs {size} values, got {array.size}")
        tensors.append(array.reshape(shape) if shape else array)
    return data, tensors


def _bytes_tensor(chunk: bytes, where: str) -> np.ndarray:
    values, pos = [], 0
    while pos < len(chunk):
        if pos + 4 > len(chunk):
            raise ValidationError(f"{where}: truncated BYTES element")
        n = int.from_bytes(chunk[pos : pos + 4], "little")
        values.append(chunk[pos + 4 : pos + 4 + n].decode("utf-8", errors="replace"))
        pos += 4 + n
    return np.asarray(values, dtype=object)


def _flatten(data: Any) -> list[Any]:
    if not isinstance(data, list):
        return [data]
    if data and isinstance(data[0], list):
        out: list[Any] = []
        for part in data:
            out.extend(_flatten(part))
        return out
    return data


def v2_batch(spec: InputSpec, request: dict[str, Any], tensors: list[np.ndarray]) -> Batch:
    """One tensor of [rows, columns] in signature order, or one tensor per column."""
    names = [str(t["name"]) for t in request["inputs"]]
    if len(tensors) == 1 and (spec.signature is None or names[0] not in spec.name_set or len(spec.names) == 1):
        return spec.from_array(tensors[0], f"inputs[0] ({names[0]})")
    columns: dict[str, list[Any]] = {}
    for name, tensor in zip(names, tensors, strict=True):
        if tensor.ndim == 2 and tensor.shape[1] == 1:
            tensor = tensor[:, 0]
        if tensor.ndim != 1:
            raise SchemaError(f"input {name!r} has shape {list(tensor.shape)}; one column per input takes shape [rows]")
        columns[name] = tensor.tolist()
    return spec.from_columns(columns, "inputs")


def v2_datatype(values: np.ndarray) -> str:
    kind = values.dtype
    if kind.kind == "b":
        return "BOOL"
    if kind.kind in "iu":
        return "INT64" if kind.kind == "i" else "UINT64"
    if kind.kind == "f":
        return "FP64" if kind.itemsize == 8 else "FP32"
    return "BYTES"


def v2_answer(out: Output, wanted: list[str] | None) -> list[dict[str, Any]]:
    outputs = []
    names = wanted or ["predict"]
    for name in names:
        if name == "predict":
            values = out.predictions
        elif name == "predict_proba" and out.probabilities is not None:
            values = out.probabilities
        else:
            known = ["predict"] + (["predict_proba"] if out.probabilities is not None else [])
            raise ValidationError(f"output {name!r} is unknown; this model gives {known}")
        if values.dtype.kind in "iu":
            values = values.astype(np.int64)
        elif values.dtype.kind == "f":
            values = values.astype(np.float64)
        outputs.append(
            {
                "name": name,
                "datatype": v2_datatype(values),
                "shape": list(values.shape),
                "data": values.ravel().tolist() if values.dtype.kind not in "fiub" else values.ravel(),
            }
        )
    return outputs
