"""Promotion gates: the checks a version must pass before an alias may point at it.

Declared per model in YAML or Python::

    checks:
      - metric: auc            # a threshold on a recorded metric
        min: 0.80
      - metric: log_loss
        max: 0.45
      - champion: auc          # no worse than the version the alias holds now ...
        delta: 0.01            # ... by more than this
      - latency_ms: 50         # median predict time on the input example
      - card: [intended_use, limitations]

Whatever the gate says, an ``unacceptable`` model is never promoted, and a ``high``-risk
one needs every card field filled in and a named approver.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from pydantic import ValidationError as PydanticError

from modelyard.core.errors import ValidationError
from modelyard.core.models import CARD_FIELDS


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MetricCheck(_Strict):
    metric: str
    min: float | None = None
    max: float | None = None


class ChampionCheck(_Strict):
    champion: str  # the metric compared
    delta: float = 0.0
    higher_is_better: bool = True
    alias: str = "champion"


class LatencyCheck(_Strict):
    latency_ms: float = Field(gt=0)
    repeats: int = Field(default=20, ge=1, le=1000)


class CardCheck(_Strict):
    card: list[str]


Check = Annotated[
    MetricCheck | ChampionCheck | LatencyCheck | CardCheck, Field(union_mode="left_to_right")
]


class Gate(_Strict):
    checks: list[Check] = Field(default_factory=list)
    kind: Literal["gate"] = "gate"


@dataclass(frozen=True)
class CheckResult:
    check: str
    passed: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"check": self.check, "passed": self.passed, "detail": self.detail}


def _explain(error: PydanticError, where: str) -> ValidationError:
    lines = []
    for item in error.errors()[:5]:
        location = ".".join(str(p) for p in item["loc"])
        lines.append(f"{location}: {item['msg']}")
    return ValidationError(
        f"gate {where} is not valid: " + "; ".join(lines) + ". Each check is one of "
        "{metric, min, max}, {champion, delta}, {latency_ms}, {card: [fields]}"
    )


def parse_gate(
    spec: Gate | dict[str, Any] | str | os.PathLike[str], where: str | None = None
) -> Gate:
    """A gate from a Gate, a dict, or a YAML file path."""
    if isinstance(spec, Gate):
        return spec
    if isinstance(spec, str | os.PathLike):
        path = Path(spec)
        if not path.is_file():
            raise ValidationError(f"gate file {str(path)!r} does not exist")
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as error:
            raise ValidationError(f"gate file {str(path)!r} is not valid YAML: {error}") from error
        where = where or f"file {str(path)!r}"
    else:
        data = spec
    try:
        gate = TypeAdapter(Gate).validate_python(data)
    except PydanticError as error:
        raise _explain(error, where or "definition") from error
    for check in gate.checks:
        if isinstance(check, MetricCheck) and check.min is None and check.max is None:
            raise ValidationError(f"gate check on metric {check.metric!r} needs a min or a max")
        if isinstance(check, CardCheck):
            unknown = [f for f in check.card if f not in CARD_FIELDS]
            if unknown:
                raise ValidationError(
                    f"gate card check names unknown fields {unknown}; card fields are {list(CARD_FIELDS)}"
                )
    return gate


def metric_of(metrics: dict[str, float], name: str, role: str) -> float:
    if name not in metrics:
        raise ValidationError(
            f"the gate checks metric {name!r}, which {role} does not have; its metrics are "
            f"{sorted(metrics) or 'none'} (fix the name in the gate, or log the metric)"
        )
    return float(metrics[name])
