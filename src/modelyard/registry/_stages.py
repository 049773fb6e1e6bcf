"""MLflow's model version stages, mapped onto aliases.

MLflow deprecated stages for aliases, and modelyard has only aliases. For code that still
calls ``get_latest_versions`` or ``transition_model_version_stage``: the stage
``Production`` is the alias ``production``, ``Staging`` is ``staging``, ``Archived`` is the
archived state, and ``None`` is a version that holds neither alias. Each call warns
(FutureWarning) and names the alias call to use instead.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

from modelyard.core.errors import NotFoundError, ValidationError
from modelyard.core.models import STAGE_ALIASES, ModelVersion, VersionState

if TYPE_CHECKING:
    from modelyard.registry._client import Client

STAGES = ("None", "Staging", "Production", "Archived")


def _stage(stage: str) -> str:
    for known in STAGES:
        if str(stage).lower() == known.lower():
            return known
    raise ValidationError(f"stage {stage!r} is not one of {list(STAGES)}")


def _warn(what: str, instead: str) -> None:
    warnings.warn(
        f"{what}: model stages are deprecated (in MLflow too) and modelyard has only aliases; "
        f"stages map onto the aliases {sorted(STAGE_ALIASES.values())}. Use {instead}",
        FutureWarning,
        stacklevel=3,
    )


def latest_versions(client: Client, name: str, stages: list[str] | None = None) -> list[ModelVersion]:
    """The newest version in each stage asked for (all four when ``stages`` is empty)."""
    _warn("get_latest_versions", "get_model_version_by_alias(name, alias) or get_latest_version(name)")
    wanted = [_stage(s) for s in stages] if stages else list(STAGES)
    versions = client.search_model_versions(f"name = '{name}'", include_deleted=False)
    if not versions:
        client.get_registered_model(name)  # raises NotFoundError naming the model
    found: list[ModelVersion] = []
    for stage in wanted:
        matching = [v for v in versions if v.current_stage == stage]
        if matching:
            found.append(max(matching, key=lambda v: v.version))
    return sorted({v.version: v for v in found}.values(), key=lambda v: v.version)


def transition(
    client: Client, name: str, version: int | str, stage: str, archive_existing_versions: bool = False
) -> ModelVersion:
    """Move ``version`` to ``stage``: point the stage's alias at it (Staging, Production),
    archive it (Archived), or take the stage aliases off it (None)."""
    target = _stage(stage)
    _warn(
        "transition_model_version_stage",
        "set_registered_model_alias(name, alias, version), or promote() through the model's gate",
    )
    current = client.get_model_version(name, version)
    if target == "Archived":
        client.archive_model_version(name, current.version, reason="stage: Archived")
    elif target == "None":
        if current.state is VersionState.ARCHIVED:
            client.restore_model_version(name, current.version, reason="stage: None")
        for alias in STAGE_ALIASES.values():
            if alias in current.aliases:
                client.delete_registered_model_alias(name, alias, reason="stage: None")
    else:
        alias = STAGE_ALIASES[target]
        previous: ModelVersion | None
        try:
            previous = client.get_model_version_by_alias(name, alias)
        except NotFoundError:
            previous = None
        if current.state is VersionState.ARCHIVED:
            client.restore_model_version(name, current.version, reason=f"stage: {target}")
        client.set_registered_model_alias(name, alias, current.version, reason=f"stage: {target}")
        if archive_existing_versions and previous is not None and previous.version != current.version:
            client.archive_model_version(name, previous.version, reason=f"replaced in {target}")
    return client.get_model_version(name, current.version)
