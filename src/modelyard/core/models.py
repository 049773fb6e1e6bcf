"""The registry's value objects: registered models, versions, aliases and audit entries."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from modelyard.core.errors import ValidationError
from modelyard.core.signature import Signature


class RiskCategory(StrEnum):
    """Risk tiers after the EU AI Act. High-risk versions need a filled card and an approver
    before promotion; unacceptable ones can never be promoted."""

    MINIMAL = "minimal"
    LIMITED = "limited"
    HIGH = "high"
    UNACCEPTABLE = "unacceptable"

    @classmethod
    def parse(cls, value: RiskCategory | str) -> RiskCategory:
        try:
            return cls(str(value).lower())
        except ValueError:
            raise ValidationError(
                f"risk category {value!r} is not one of {[c.value for c in cls]}"
            ) from None


class VersionState(StrEnum):
    ACTIVE = "active"
    ARCHIVED = "archived"
    DELETED = "deleted"


CARD_FIELDS = (
    "intended_use",
    "out_of_scope_use",
    "training_data",
    "evaluation",
    "limitations",
    "ethical_considerations",
)


# MLflow's deprecated stages, as the aliases that stand for them (see registry/_stages.py)
STAGE_ALIASES = {"Staging": "staging", "Production": "production"}


@dataclass(frozen=True, slots=True)
class RegisteredModel:
    name: str
    description: str
    owner: str
    risk_category: RiskCategory
    tags: dict[str, str]
    aliases: dict[str, int]
    latest_version: int | None
    creation_time: int
    last_updated_time: int
    gate: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class ModelVersion:
    name: str
    version: int
    state: VersionState
    source: str
    run_id: str | None
    flavor: str
    manifest_digest: str
    files: dict[str, tuple[str, int]]
    signature: dict[str, Any] | None
    metrics: dict[str, float]
    params: dict[str, str]
    tags: dict[str, str]
    description: str
    owner: str
    lineage: dict[str, Any]
    risk_category: RiskCategory
    card: dict[str, str]
    approvals: list[dict[str, Any]]
    evaluation: dict[str, Any]
    aliases: list[str]
    creation_time: int
    last_updated_time: int

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"

    @property
    def current_stage(self) -> str:
        """MLflow's deprecated stage, read from the aliases: ``Production`` (alias
        ``production``), ``Staging`` (``staging``), ``Archived`` or ``None``."""
        if self.state is VersionState.ARCHIVED:
            return "Archived"
        for stage in ("Production", "Staging"):
            if STAGE_ALIASES[stage] in self.aliases:
                return stage
        return "None"


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What ``log_model`` returns (MLflow's ``ModelInfo``): where the bundle was logged and,
    when a ``registered_model_name`` was given, the version it became."""

    run_id: str
    artifact_path: str
    model_uri: str  # runs:/<run-id>/<artifact_path>, what load_model and register_model take
    flavor: str
    signature: Signature | None
    registered_model_version: int | None = None
    model_version: ModelVersion | None = None  # the registered version, when there is one

    @property
    def name(self) -> str:
        """MLflow 3's name for the artifact path."""
        return self.artifact_path


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    name: str
    version: int | None
    action: str
    alias: str | None
    from_version: int | None
    to_version: int | None
    actor: str
    reason: str
    at: int
    details: dict[str, Any] = field(default_factory=dict)


_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-. ]{0,254}$")
_ALIAS = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]{0,63}$")


def check_model_name(name: object) -> str:
    if not isinstance(name, str) or not _MODEL_NAME.match(name):
        raise ValidationError(
            f"model name {name!r} is not valid: use 1-255 letters, digits, '_', '-', '.' or "
            "spaces, starting with a letter or digit"
        )
    return name


def check_alias(alias: object) -> str:
    if not isinstance(alias, str) or not _ALIAS.match(alias):
        raise ValidationError(
            f"alias {alias!r} is not valid: use a name like 'champion' (letters, digits, '_', '-', "
            "starting with a letter; not a number, which would read as a version)"
        )
    if alias.lower() == "latest":
        raise ValidationError(
            "'latest' is reserved: models:/name/latest always means the newest version"
        )
    return alias
