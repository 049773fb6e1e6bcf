"""A feature repository's settings: ``feature_store.yaml`` beside the definitions (optional).

```yaml
offline_engine: spark            # duckdb (the default) or spark
spark:
  master: local[2]               # or spark://host:7077, yarn, k8s://...
  conf: {spark.sql.shuffle.partitions: "8"}
```

Only the engine that runs training sets is chosen here; the definitions stay the same, and
the answers too. A mistake names the file and the field. A Feast repository's keys
(``project``, ``registry``, ``provider``, ...) are accepted and ignored, so its file can stay.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, Field

from modelyard.core.errors import ValidationError

SETTINGS_FILE = "feature_store.yaml"
# a Feast repository's feature_store.yaml keys, which name what modelyard takes from elsewhere
# (the project from the folder, the registry from the tracking store): read and left alone
FEAST_KEYS = frozenset(
    {
        "project",
        "registry",
        "provider",
        "online_store",
        "offline_store",
        "entity_key_serialization_version",
    }
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SparkSettings(_Strict):
    master: str = Field(default="local[*]", min_length=1, description="the Spark master URL")
    conf: dict[str, str] = Field(
        default_factory=dict, description="Spark configuration, set when the session starts"
    )

    @pydantic.field_validator("conf", mode="before")
    @classmethod
    def _stringify(cls, value: Any) -> Any:
        """YAML reads ``8`` and ``true`` as numbers and booleans; Spark wants strings."""
        if isinstance(value, dict):
            return {
                k: (str(v).lower() if isinstance(v, bool) else str(v))
                if isinstance(v, int | float | bool)
                else v
                for k, v in value.items()
            }
        return value


class RepoSettings(_Strict):
    offline_engine: Literal["duckdb", "spark"] = "duckdb"
    spark: SparkSettings = Field(default_factory=SparkSettings)


def parse_settings(data: Any, source: str) -> RepoSettings:
    """``data`` (a mapping) as settings, or a ValidationError naming ``source`` and the field."""
    if data is None:
        return RepoSettings()
    if not isinstance(data, dict):
        raise ValidationError(
            f"{source}: expected a mapping (offline_engine, spark), got {type(data).__name__}"
        )
    try:
        return RepoSettings.model_validate({k: v for k, v in data.items() if k not in FEAST_KEYS})
    except pydantic.ValidationError as error:
        lines = []
        for item in error.errors()[:5]:
            where = ".".join(str(p) for p in item["loc"]) or "(top level)"
            lines.append(f"{where}: {item['msg']}")
        raise ValidationError(f"{source}: " + "; ".join(lines)) from None


def load_settings(repo: Path) -> RepoSettings:
    """The settings in ``repo/feature_store.yaml``, or the defaults when there is none."""
    path = repo / SETTINGS_FILE
    if not path.is_file():
        return RepoSettings()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ValidationError(
            f"{path}{where}: not valid YAML ({getattr(error, 'problem', error)})"
        ) from None
    return parse_settings(data, str(path))
