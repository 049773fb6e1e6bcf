"""On-demand features: a Python transform of request values and other views' features,
computed when a training set is built or features are served (never stored).

    @on_demand_feature_view(sources=[finances, RequestSource(name="application", schema=[Field(name="loan_amount")])],
                            schema=[Field(name="loan_to_income")])
    def affordability(inputs: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"loan_to_income": inputs["loan_amount"] / inputs["income"]})
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from modelyard.core.errors import ValidationError
from modelyard.features._definitions import FeatureView, Field, _check_name


@dataclass(frozen=True, kw_only=True)
class RequestSource:
    """Values that arrive with the request (or are columns of the entity frame)."""

    name: str
    schema: tuple[Field, ...]

    def __init__(self, *, name: str, schema: list[Field]) -> None:
        object.__setattr__(self, "name", _check_name(name, "request source"))
        object.__setattr__(self, "schema", tuple(schema))


@dataclass(frozen=True, kw_only=True)
class OnDemandFeatureView:
    name: str
    sources: tuple[FeatureView | RequestSource, ...]
    schema: tuple[Field, ...]
    udf: Callable[[pd.DataFrame], pd.DataFrame]
    description: str = ""

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.schema]

    @property
    def request_fields(self) -> list[str]:
        return [f.name for s in self.sources if isinstance(s, RequestSource) for f in s.schema]

    @property
    def view_sources(self) -> list[FeatureView]:
        return [s for s in self.sources if isinstance(s, FeatureView)]

    def transform(self, inputs: pd.DataFrame) -> pd.DataFrame:
        missing = [f for f in self.request_fields if f not in inputs.columns]
        if missing:
            raise ValidationError(
                f"on-demand feature view {self.name!r} needs the request value{'s' if len(missing) > 1 else ''} {missing}"
            )
        try:
            out = self.udf(inputs.copy())
        except Exception as error:
            raise ValidationError(
                f"on-demand feature view {self.name!r} failed: {type(error).__name__}: {error}"
            ) from error
        if not isinstance(out, pd.DataFrame):
            raise ValidationError(
                f"on-demand feature view {self.name!r} must return a DataFrame, got {type(out).__name__}"
            )
        absent = [f for f in self.feature_names if f not in out.columns]
        if absent:
            raise ValidationError(f"on-demand feature view {self.name!r} did not produce {absent}")
        return out[self.feature_names].set_axis(inputs.index)

    def to_spec(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "sources": [s.name for s in self.sources],
            "request_fields": self.request_fields,
            "schema": [{"name": f.name, "dtype": f.dtype.value} for f in self.schema],
            "udf": getattr(self.udf, "__qualname__", repr(self.udf)),
            "description": self.description,
        }


def on_demand_feature_view(
    *,
    sources: list[FeatureView | RequestSource],
    schema: list[Field],
    name: str | None = None,
    description: str = "",
) -> Callable[[Callable[[pd.DataFrame], pd.DataFrame]], OnDemandFeatureView]:
    """Declare an on-demand feature view from a function of a DataFrame of its inputs."""
    if not sources or not schema:
        raise ValidationError("on_demand_feature_view needs sources and a schema")

    def wrap(udf: Callable[[pd.DataFrame], pd.DataFrame]) -> OnDemandFeatureView:
        return OnDemandFeatureView(
            name=_check_name(name or udf.__name__, "on-demand feature view"),
            sources=tuple(sources),
            schema=tuple(schema),
            udf=udf,
            description=description or (udf.__doc__ or "").strip(),
        )

    return wrap
