"""Model signatures: the columns a model takes and gives, with dtypes and shapes.

Plain data with no I/O; inference from data and checking of inputs live in ``flavors``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from modelyard.core.errors import ValidationError


class DType(StrEnum):
    BOOL = "bool"
    INT32 = "int32"
    INT64 = "int64"
    FLOAT32 = "float32"
    FLOAT64 = "float64"
    STRING = "string"
    DATETIME = "datetime"

    @property
    def is_numeric(self) -> bool:
        return self in (DType.INT32, DType.INT64, DType.FLOAT32, DType.FLOAT64)

    @property
    def is_integer(self) -> bool:
        return self in (DType.INT32, DType.INT64)


class InputKind(StrEnum):
    """Whether the model was fitted on a DataFrame (named columns) or a bare array; the
    inputs of the second are named by position, ``f0 .. f{k-1}`` (``positional_names``), and
    a ``[N, k]`` array maps onto them in that order."""

    DATAFRAME = "dataframe"
    NDARRAY = "ndarray"


def positional_names(count: int) -> list[str]:
    """The input names of a model fitted on a bare array of ``count`` columns."""
    return [f"f{i}" for i in range(count)]


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    name: str
    dtype: DType
    shape: tuple[int, ...] = (-1,)
    optional: bool = False

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "dtype": self.dtype.value,
            "shape": list(self.shape),
        }
        if self.optional:
            out["optional"] = True
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ColumnSpec:
        try:
            return cls(
                name=str(data["name"]),
                dtype=DType(data["dtype"]),
                shape=tuple(int(s) for s in data.get("shape", [-1])),
                optional=bool(data.get("optional", False)),
            )
        except (KeyError, ValueError) as error:
            raise ValidationError(
                f"signature column {data!r} is malformed ({error}); expected name, dtype "
                f"(one of {[d.value for d in DType]}) and an optional shape"
            ) from None


@dataclass(frozen=True, slots=True)
class Signature:
    """Input columns (in order) and output columns of a model."""

    inputs: tuple[ColumnSpec, ...]
    outputs: tuple[ColumnSpec, ...] = ()
    input_kind: InputKind = InputKind.DATAFRAME
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def input_names(self) -> list[str]:
        return [c.name for c in self.inputs]

    def to_dict(self) -> dict[str, Any]:
        return {
            "input_kind": self.input_kind.value,
            "inputs": [c.to_dict() for c in self.inputs],
            "outputs": [c.to_dict() for c in self.outputs],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Signature:
        if not isinstance(data, dict) or "inputs" not in data:
            raise ValidationError(f"signature {str(data)[:80]!r} has no 'inputs' list")
        return cls(
            inputs=tuple(ColumnSpec.from_dict(c) for c in data["inputs"]),
            outputs=tuple(ColumnSpec.from_dict(c) for c in data.get("outputs", [])),
            input_kind=InputKind(data.get("input_kind", InputKind.DATAFRAME.value)),
        )
