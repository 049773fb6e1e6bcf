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
import math
from typing import Any

import numpy as np
import orjson
from starlette.responses import Response

from modelyard.core.errors import SchemaError, ValidationError
from modelyard.http import PayloadTooLarge, parse_json, shown
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
        raise ValidationError(
            'request body must be a JSON object: {"records": [...]} or {"columns": {...}}'
        )
    unknown = [k for k in body if k not in (*NATIVE_KEYS, "explain", "id")]
    if unknown:
        raise ValidationError(
            f"unknown field{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
            "a request has 'records' or 'columns', and optionally 'explain' and 'id'"
        )
    given = [k for k in NATIVE_KEYS if k in body]
    if len(given) != 1:
        raise ValidationError(
            "give exactly one of 'records' (a list of objects) or 'columns' (column -> list)"
        )
    if "explain" in body and not isinstance(body["explain"], bool):
        raise ValidationError("'explain' must be true or false")
    return given[0], body[given[0]]


def payload_rows(layout: str, payload: Any) -> int:
    """How many rows a native or MLflow payload holds, from list lengths alone (nothing is
    converted), so a row limit is enforced before any work."""
    if layout == "dataframe_split":
        payload = payload.get("data") if isinstance(payload, dict) else None
    if isinstance(payload, list):
        return len(payload)
    if isinstance(payload, dict):
        return max((len(v) for v in payload.values() if isinstance(v, list)), default=1)
    return 1


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


def mlflow_payload(body: bytes, content_type: str, max_rows: int | None = None) -> tuple[str, Any]:
    """(format, payload) of an MLflow scoring request; rows are counted against ``max_rows``
    before anything is converted (CSV: by its line count, before it is parsed)."""
    kind = content_type.split(";")[0].strip().lower()
    if kind in ("text/csv", "application/csv"):
        import pandas as pd

        check_rows(body.count(b"\n") + (0 if body.endswith(b"\n") else 1) - 1, max_rows)

        try:
            frame = pd.read_csv(io.BytesIO(body))
        except Exception as error:
            raise ValidationError(f"CSV body could not be read: {str(error)[:200]}") from None
        return "dataframe_split", {
            "columns": [str(c) for c in frame.columns],
            "data": frame.to_numpy().tolist(),
        }
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
        raise ValidationError(
            f"unknown field{'s' if len(extra) > 1 else ''} {', '.join(map(shown, extra[:8]))}"
        )
    check_rows(payload_rows(given[0], data[given[0]]), max_rows)
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


def mlflow_records(key: str, payload: Any) -> list[Any]:
    """An MLflow payload as rows that name their columns, for endpoints that look features up
    by an entity key."""
    if key == "dataframe_split" and isinstance(payload, dict):
        columns, data = payload.get("columns"), payload.get("data")
        if not isinstance(columns, list) or not isinstance(data, list):
            raise SchemaError(
                "'dataframe_split' needs 'columns' (names, the entity key among them) and 'data' (rows)"
            )
        for i, row in enumerate(data):
            if not isinstance(row, list) or len(row) != len(columns):
                raise SchemaError(
                    f"dataframe_split.data[{i}] must be a list of {len(columns)} values, one per column"
                )
        return [dict(zip(columns, row, strict=True)) for row in data]
    if key == "inputs" and isinstance(payload, dict):
        return columns_to_records(payload, "inputs")
    if isinstance(payload, list) and payload and all(isinstance(r, dict) for r in payload):
        return payload
    raise SchemaError(
        f"this endpoint looks features up by an entity key: send '{key}' as rows that name their "
        "columns (dataframe_split with 'columns', dataframe_records, or instances of objects)"
    )


def columns_to_records(columns: dict[str, Any], field: str) -> list[dict[str, Any]]:
    lengths = {len(v) if isinstance(v, list) else -1 for v in columns.values()}
    if not columns or len(lengths) != 1 or -1 in lengths:
        raise SchemaError(
            f"'{field}' must map each column to a list of values, all of the same length"
        )
    names = list(columns)
    return [dict(zip(names, values, strict=True)) for values in zip(*columns.values(), strict=True)]


# -- Open Inference Protocol v2 ------------------------------------------------------------


class TooManyRows(PayloadTooLarge):
    """A request holding more rows than the endpoint takes, found from its shape (list
    lengths, a tensor's first dimension) before any value is converted (a 413)."""


def check_rows(rows: int, limit: int | None) -> None:
    if limit is not None and rows > limit:
        raise TooManyRows(f"the request holds {rows} rows; this endpoint takes at most {limit}")


def v2_request(
    body: bytes, header_length: str | None, max_rows: int | None = None
) -> tuple[dict[str, Any], list[np.ndarray]]:
    """The JSON part of an inference request and its input tensors as arrays. Shapes are
    checked (size, and rows against ``max_rows``) before any value is read."""
    binary = b""
    if header_length is not None:
        if not header_length.isdigit() or int(header_length) > len(body):
            raise ValidationError(
                "Inference-Header-Content-Length must be the byte length of the JSON header"
            )
        cut = int(header_length)
        body, binary = body[:cut], body[cut:]
    data = parse_json(body)
    if not isinstance(data, dict) or not isinstance(data.get("inputs"), list) or not data["inputs"]:
        raise ValidationError("an inference request needs 'inputs': a non-empty list of tensors")
    items = data["inputs"]
    shapes = [
        _v2_shape(item, f"inputs[{i}]", len(body) + len(binary)) for i, item in enumerate(items)
    ]
    if shapes and max_rows is not None:
        check_rows(max(s[0] if s else 1 for s in shapes), max_rows)
    tensors: list[np.ndarray] = []
    offset = 0
    for i, (item, shape) in enumerate(zip(items, shapes, strict=True)):
        where = f"inputs[{i}] ({shown(item['name'])})"
        datatype = item["datatype"]
        size = math.prod(shape)
        params = item.get("parameters") or {}
        if not isinstance(params, dict):
            raise ValidationError(f"{where}.parameters must be an object")
        if not isinstance(datatype, str) or (datatype != "BYTES" and datatype not in V2_DTYPES):
            raise ValidationError(
                f"{where}.datatype {shown(datatype)} is not one of {[*V2_DTYPES, 'BYTES']}"
            )
        if "binary_data_size" in params:
            length = params["binary_data_size"]
            if (
                not isinstance(length, int)
                or isinstance(length, bool)
                or length < 0
                or offset + length > len(binary)
            ):
                raise ValidationError(
                    f"{where}.parameters.binary_data_size runs past the end of the body"
                )
            chunk = binary[offset : offset + length]
            offset += length
            if datatype == "BYTES":
                array = _bytes_tensor(chunk, where)
            else:
                dtype = np.dtype(V2_DTYPES[datatype])
                if length != size * dtype.itemsize:
                    raise ValidationError(
                        f"{where}: {length} bytes do not hold shape {shape} of {datatype}"
                    )
                array = np.frombuffer(chunk, dtype=dtype)
        else:
            if "data" not in item:
                raise ValidationError(f"{where} has no 'data' (or parameters.binary_data_size)")
            flat = _flatten(item["data"], max(len(shape), 1), where)
            if len(flat) != size:
                raise ValidationError(
                    f"{where}.data holds {len(flat)} values; shape {shape} needs {size}"
                )
            if datatype == "BYTES":
                array = np.asarray(flat, dtype=object)
            else:
                array = _typed(flat, datatype, where)
        if array.size != size:
            raise ValidationError(
                f"{where}.data holds {array.size} values; shape {shape} needs {size}"
            )
        tensors.append(array.reshape(shape) if shape else array)
    return data, tensors


def _v2_shape(item: Any, where: str, body_bytes: int) -> list[int]:
    """A tensor's shape, checked to be one the body could carry (so its size never overflows)."""
    if not isinstance(item, dict):
        raise ValidationError(f"{where} must be an object with name, shape, datatype and data")
    for key in ("name", "shape", "datatype"):
        if key not in item:
            raise ValidationError(f"{where} has no '{key}'")
    shape = item["shape"]
    if (
        not isinstance(shape, list)
        or len(shape) > 32
        or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape)
    ):
        raise ValidationError(f"{where}.shape must be a list of at most 32 non-negative integers")
    # every value takes at least one byte of the body (BYTES elements too)
    if math.prod(shape) > body_bytes:
        raise ValidationError(
            f"{where}.shape {shape[:8]} holds more values than the request body carries"
        )
    return shape


def _typed(flat: list[Any], datatype: str, where: str) -> np.ndarray:
    """Numbers (or booleans for BOOL) into the tensor's dtype, each checked to fit it."""
    dtype = np.dtype(V2_DTYPES[datatype])
    kinds = set(map(type, flat))
    if dtype.kind == "b":
        if kinds - {bool}:
            bad = next(v for v in flat if not isinstance(v, bool))
            raise ValidationError(f"{where}: BOOL data must be true or false, got {_kind(bad)}")
        return np.asarray(flat, dtype=dtype)
    if kinds - {int, float}:
        bad = next(v for v in flat if type(v) not in (int, float))
        raise ValidationError(f"{where}: {datatype} data must be numbers, got {_kind(bad)}")
    if dtype.kind in "iu":
        if float in kinds and any(isinstance(v, float) and not v.is_integer() for v in flat):
            raise ValidationError(f"{where}: {datatype} data must be whole numbers")
        if flat:
            info = np.iinfo(dtype)
            low, high = min(flat), max(flat)
            if low < info.min or high > info.max:
                raise ValidationError(
                    f"{where}: {datatype} data must lie in [{info.min}, {info.max}]"
                )
        return np.asarray(flat, dtype=dtype)
    with np.errstate(over="ignore"):
        array = np.asarray(flat, dtype=dtype)
    if (
        dtype.itemsize < 8
        and not np.isfinite(array).all()
        and np.isfinite(np.asarray(flat, dtype=np.float64)).all()
    ):
        raise ValidationError(f"{where}: a value is out of range for {datatype}")
    return array


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return "a number"


def _bytes_tensor(chunk: bytes, where: str) -> np.ndarray:
    values, pos = [], 0
    while pos < len(chunk):
        if pos + 4 > len(chunk):
            raise ValidationError(f"{where}: truncated BYTES element")
        n = int.from_bytes(chunk[pos : pos + 4], "little")
        values.append(chunk[pos + 4 : pos + 4 + n].decode("utf-8", errors="replace"))
        pos += 4 + n
    return np.asarray(values, dtype=object)


def _flatten(data: Any, depth: int, where: str) -> list[Any]:
    """Tensor data, flat or nested as its shape (at most ``depth`` lists deep), in row-major
    order; iterative, so no nesting can exhaust the stack."""
    if not isinstance(data, list):
        return [data]
    if not data or not isinstance(data[0], list):
        return data  # flat; a list further on is refused by the type check
    out: list[Any] = []
    stack = [iter(data)]
    while stack:
        for value in stack[-1]:
            if isinstance(value, list):
                if len(stack) >= depth:
                    raise ValidationError(f"{where}.data is nested deeper than its shape")
                stack.append(iter(value))
                break
            out.append(value)
        else:
            stack.pop()
    return out


def v2_batch(spec: InputSpec, request: dict[str, Any], tensors: list[np.ndarray]) -> Batch:
    """One tensor of [rows, columns] in signature order (whatever its name), or one tensor
    per column matched by name."""
    names = [str(t["name"]) for t in request["inputs"]]
    if len(tensors) == 1:
        tensor, width = tensors[0], len(spec.names)
        if (
            spec.signature is None
            or width == 1
            or names[0] not in spec.name_set
            or (tensor.ndim == 2 and tensor.shape[1] == width)
        ):
            return spec.from_array(tensor, f"inputs[0] ({shown(names[0])})")
    return spec.from_columns(v2_columns(names, tensors), "inputs")


def v2_columns(names: list[str], tensors: list[np.ndarray]) -> dict[str, list[Any]]:
    """One column per tensor (shape [rows] or [rows, 1]), by the tensor's name."""
    columns: dict[str, list[Any]] = {}
    for name, tensor in zip(names, tensors, strict=True):
        if tensor.ndim == 2 and tensor.shape[1] == 1:
            tensor = tensor[:, 0]
        if tensor.ndim != 1:
            raise SchemaError(
                f"input {shown(name)} has shape {list(tensor.shape)}; one column per input takes shape [rows]"
            )
        if name in columns:
            raise SchemaError(f"input {shown(name)} is given twice")
        columns[name] = tensor.tolist()
    return columns


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
                "data": values.ravel().tolist()
                if values.dtype.kind not in "fiub"
                else values.ravel(),
            }
        )
    return outputs


def v2_errors(response: Response) -> Response:
    """An error answer in the protocol's shape, ``{"error": "<message>"}`` (what tritonclient
    and KServe clients read); input mistakes, 422 on the native route, are 400 here as the
    protocol says. Other statuses (401, 403, 404, 413, 500) keep their meaning."""
    if response.status_code < 400:
        return response
    try:
        body = orjson.loads(bytes(response.body))
    except orjson.JSONDecodeError:
        return response
    error = body.get("error") if isinstance(body, dict) else None
    message = str(error.get("message", "")) if isinstance(error, dict) else str(error)
    request_id = response.headers.get("x-request-id")
    if response.status_code >= 500 and request_id:
        message = f"{message} (request {request_id})"
    headers = {
        k: v for k, v in response.headers.items() if k not in ("content-length", "content-type")
    }
    return Response(
        orjson.dumps({"error": message}),
        status_code=400 if response.status_code == 422 else response.status_code,
        headers=headers,
        media_type="application/json",
    )
