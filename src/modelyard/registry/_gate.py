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
from modelyard.core.formatting import number
from modelyard.core.models import CARD_FIELDS, RiskCategory


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
    """One check's outcome: ``check`` names the rule (``auc >= 0.8``), ``detail`` states
    what was found as a sentence that reads as a pass or a failure on its own
    (``auc 0.85 is more than 0.01 below champion v1's 0.9084``)."""

    check: str
    passed: bool
    detail: str

    def __str__(self) -> str:
        return self.detail

    def to_dict(self) -> dict[str, Any]:
        return {"check": self.check, "passed": self.passed, "detail": self.detail}


def _pair(a: float, b: float) -> tuple[str, str]:
    """Two numbers shown so that different values never print the same."""
    shown = number(a), number(b)
    if shown[0] == shown[1] and a != b:
        return f"{a:.10g}", f"{b:.10g}"
    return shown


def risk_outcome(risk: RiskCategory) -> CheckResult:
    if risk is RiskCategory.UNACCEPTABLE:
        return CheckResult(
            "risk category", False, "risk category unacceptable: such models are never promoted"
        )
    return CheckResult("risk category", True, f"risk category {risk.value} allows promotion")


def complete_card_outcome(missing: list[str]) -> CheckResult:
    check = "high risk: card complete"
    if missing:
        return CheckResult(
            check,
            False,
            f"card fields {', '.join(missing)} are empty; a high-risk version needs every card "
            "field filled (update_model_version(..., card={...}))",
        )
    return CheckResult(check, True, "every card field is filled")


def approver_outcome(approvers: list[str]) -> CheckResult:
    check = "high risk: named approver"
    if not approvers:
        return CheckResult(
            check,
            False,
            "no approval is recorded; a high-risk version needs a named approver "
            "(modelyard models approve ...)",
        )
    return CheckResult(check, True, f"approved by {', '.join(approvers)}")


def metric_outcome(check: MetricCheck, value: float) -> CheckResult:
    bounds = " and ".join(
        b
        for b in (
            f">= {check.min}" if check.min is not None else "",
            f"<= {check.max}" if check.max is not None else "",
        )
        if b
    )
    label = f"{check.metric} {bounds}"
    if check.min is not None and not value >= check.min:
        shown, limit = _pair(value, check.min)
        return CheckResult(label, False, f"{check.metric} {shown} is below the minimum {limit}")
    if check.max is not None and not value <= check.max:
        shown, limit = _pair(value, check.max)
        return CheckResult(label, False, f"{check.metric} {shown} is above the maximum {limit}")
    return CheckResult(label, True, f"{check.metric} {number(value)} meets {bounds}")


def champion_outcome(
    check: ChampionCheck, value: float, reference: float | None, champion_version: int | None
) -> CheckResult:
    """``value`` of the candidate against ``reference``, the version the alias holds now
    (None when the alias points nowhere yet)."""
    metric, alias = check.champion, check.alias
    label = f"{metric} vs {alias} (tolerance {check.delta})"
    if reference is None:
        return CheckResult(
            label, True, f"{metric} {number(value)}; no {alias} yet, so nothing to compare with"
        )
    shown, theirs = _pair(value, reference)
    whose = f"{alias} v{champion_version}'s {theirs}"
    better, worse = ("above", "below") if check.higher_is_better else ("below", "above")
    worse_by = (reference - value) if check.higher_is_better else (value - reference)
    if worse_by > check.delta:
        return CheckResult(
            label, False, f"{metric} {shown} is more than {check.delta} {worse} {whose}"
        )
    if worse_by < 0:
        return CheckResult(label, True, f"{metric} {shown} is {better} {whose}")
    if worse_by == 0:
        return CheckResult(label, True, f"{metric} {shown} equals {whose}")
    return CheckResult(label, True, f"{metric} {shown} is within {check.delta} of {whose}")


def latency_outcome(
    check: LatencyCheck, median_ms: float | None, calls: int = 0, rows: int = 0
) -> CheckResult:
    """``median_ms`` None: the version has no input example to time."""
    label = f"latency <= {check.latency_ms} ms"
    if median_ms is None:
        return CheckResult(
            label,
            False,
            "no input example was registered to time; register the version with input_example=",
        )
    timed = f"median {median_ms:.2f} ms over {calls} calls on {rows} rows"
    if median_ms > check.latency_ms:
        return CheckResult(label, False, f"{timed} is above the limit of {check.latency_ms} ms")
    return CheckResult(label, True, f"{timed} is within {check.latency_ms} ms")


def card_outcome(check: CardCheck, missing: list[str]) -> CheckResult:
    label = f"card fields {', '.join(check.card)}"
    if missing:
        return CheckResult(
            label,
            False,
            f"card fields {', '.join(missing)} are empty; fill them with "
            "update_model_version(..., card={...})",
        )
    return CheckResult(label, True, f"card fields {', '.join(check.card)} are filled")


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
