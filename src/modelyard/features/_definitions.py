"""Feature definitions, named after Feast's: Entity, Field, FileSource, FeatureView, FeatureService.

Keyword-only, referring to each other by object; checked when built. A ``"view:feature"``
string (what a person types) is parsed once by ``FeatureRef.parse``.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from modelyard.core.errors import ValidationError
from modelyard.core.signature import DType
from modelyard.features._entity_keys import KEY_DTYPES

_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


def _check_name(name: object, what: str) -> str:
    if not isinstance(name, str) or not name or not set(name) <= _NAME_CHARS:
        raise ValidationError(
            f"{what} name {name!r} is not valid: use letters, digits, '_' and '-'"
        )
    return name


@dataclass(frozen=True, kw_only=True)
class Entity:
    """What features describe (an applicant, a merchant), identified by its join keys.

    ``dtype`` types every join key of the entity: ``Int64`` (the default), ``Int32`` or
    ``String``. Source columns are checked against it at ``apply``, and online lookups refuse
    values of another type (see ``_entity_keys``)."""

    name: str
    join_keys: tuple[str, ...]
    dtype: DType = DType.INT64
    description: str = ""

    def __init__(
        self,
        *,
        name: str,
        join_keys: list[str] | tuple[str, ...] | None = None,
        dtype: DType | str = DType.INT64,
        description: str = "",
    ) -> None:
        object.__setattr__(self, "name", _check_name(name, "entity"))
        keys = tuple(join_keys or [name])
        if not keys:
            raise ValidationError(f"entity {name!r} needs at least one join key")
        object.__setattr__(self, "join_keys", keys)
        try:
            kind = DType(dtype)
        except ValueError:
            kind = None
        if kind not in KEY_DTYPES:
            raise ValidationError(
                f"entity {name!r}: dtype {str(dtype)!r} cannot type a join key; use Int64 (the "
                "default), Int32 or String"
            )
        object.__setattr__(self, "dtype", kind)
        object.__setattr__(self, "description", description)

    def to_spec(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "join_keys": list(self.join_keys),
            "dtype": self.dtype.value,
            "description": self.description,
        }


@dataclass(frozen=True, kw_only=True)
class Field:
    name: str
    dtype: DType = DType.FLOAT64
    description: str = ""

    def __post_init__(self) -> None:
        _check_name(self.name, "field")
        object.__setattr__(self, "dtype", DType(self.dtype))


@dataclass(frozen=True, kw_only=True)
class FileSource:
    """Parquet (a file, folder or glob) or CSV with an event-time column."""

    path: str
    timestamp_field: str
    created_timestamp_column: str | None = None
    name: str | None = None
    file_format: str = "parquet"

    def __post_init__(self) -> None:
        if self.file_format not in ("parquet", "csv"):
            raise ValidationError(f"file_format {self.file_format!r} is not 'parquet' or 'csv'")
        object.__setattr__(self, "path", str(self.path))

    def resolved(self, repo: Path) -> str:
        path = Path(self.path)
        return str(path if path.is_absolute() else (repo / path))

    def to_spec(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "timestamp_field": self.timestamp_field,
            "created_timestamp_column": self.created_timestamp_column,
            "name": self.name,
            "file_format": self.file_format,
        }


@dataclass(frozen=True, kw_only=True)
class FeatureView:
    """Typed features of one entity, from one source, valid for ``ttl`` after their event time."""

    name: str
    entities: tuple[Entity, ...]
    schema: tuple[Field, ...]
    source: Any  # FileSource | DataFrameSource | DuckDBSource | PostgreSQLSource | SparkSource
    ttl: timedelta | None = None
    online: bool = True
    description: str = ""
    owner: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    expectations: tuple[Any, ...] = ()
    warn_only: bool = False

    def __init__(
        self,
        *,
        name: str,
        entities: list[Entity],
        schema: list[Field],
        source: Any,
        ttl: timedelta | None = None,
        online: bool = True,
        description: str = "",
        owner: str = "",
        tags: dict[str, str] | None = None,
        expectations: list[Any] | None = None,
        warn_only: bool = False,
    ) -> None:
        _check_name(name, "feature view")
        if not entities:
            raise ValidationError(f"feature view {name!r} needs an entity")
        if not (callable(getattr(source, "to_spec", None)) and hasattr(source, "timestamp_field")):
            raise ValidationError(
                f"feature view {name!r}: source must be a FileSource, DataFrameSource, DuckDBSource, "
                f"PostgreSQLSource or SparkSource, got {type(source).__name__}"
            )
        if not schema:
            raise ValidationError(
                f"feature view {name!r} declares no features (schema=[Field(...), ...])"
            )
        names = [f.name for f in schema]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValidationError(f"feature view {name!r} declares {duplicates} twice")
        keys = {k for e in entities for k in e.join_keys}
        clash = sorted(keys & set(names) | ({source.timestamp_field} & set(names)))
        if clash:
            raise ValidationError(
                f"feature view {name!r}: {clash} are join keys or the timestamp, not features"
            )
        if ttl is not None and ttl <= timedelta(0):
            raise ValidationError(f"feature view {name!r}: ttl must be positive, got {ttl}")
        known = set(names) | keys | {source.timestamp_field}
        for expectation in expectations or []:
            column = getattr(expectation, "column", "")
            if not column.startswith("(") and column not in known:
                raise ValidationError(
                    f"feature view {name!r}: expectation {type(expectation).__name__} names column "
                    f"{column!r}{_suggest(column, sorted(known))}"
                )
        for key, value in {
            "name": name,
            "entities": tuple(entities),
            "schema": tuple(schema),
            "source": source,
            "ttl": ttl,
            "online": online,
            "description": description,
            "owner": owner,
            "tags": dict(tags or {}),
            "expectations": tuple(expectations or ()),
            "warn_only": warn_only,
        }.items():
            object.__setattr__(self, key, value)

    @property
    def join_keys(self) -> list[str]:
        return [k for e in self.entities for k in e.join_keys]

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.schema]

    def __getitem__(self, features: list[str]) -> FeatureViewProjection:
        """``view[["a", "b"]]``: a subset of the view's features, for a FeatureService."""
        unknown = [f for f in features if f not in self.feature_names]
        if unknown:
            raise ValidationError(
                f"feature view {self.name!r} has no feature {unknown[0]!r}{_suggest(unknown[0], self.feature_names)}"
            )
        return FeatureViewProjection(view=self, features=tuple(features))

    def to_spec(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "entities": [e.name for e in self.entities],
            "schema": [
                {"name": f.name, "dtype": f.dtype.value, "description": f.description}
                for f in self.schema
            ],
            "source": self.source.to_spec(),
            "ttl_seconds": None if self.ttl is None else self.ttl.total_seconds(),
            "online": self.online,
            "description": self.description,
            "owner": self.owner,
            "tags": self.tags,
            "expectations": [f"{type(e).__name__}{e!r}" for e in self.expectations],
            "warn_only": self.warn_only,
        }


@dataclass(frozen=True, kw_only=True)
class FeatureViewProjection:
    view: FeatureView
    features: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class FeatureService:
    """The named set of features a model consumes."""

    name: str
    features: tuple[FeatureViewProjection, ...]
    description: str = ""

    def __init__(
        self,
        *,
        name: str,
        features: list[FeatureView | FeatureViewProjection],
        description: str = "",
    ) -> None:
        _check_name(name, "feature service")
        if not features:
            raise ValidationError(f"feature service {name!r} lists no features")
        projections = tuple(
            f
            if isinstance(f, FeatureViewProjection)
            else FeatureViewProjection(view=f, features=tuple(f.feature_names))
            for f in features
        )
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "features", projections)
        object.__setattr__(self, "description", description)

    @property
    def refs(self) -> list[FeatureRef]:
        return [FeatureRef(p.view.name, f) for p in self.features for f in p.features]

    def to_spec(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "features": [str(r) for r in self.refs],
            "description": self.description,
        }


@dataclass(frozen=True)
class FeatureRef:
    view: str
    feature: str

    def __str__(self) -> str:
        return f"{self.view}:{self.feature}"

    @classmethod
    def parse(cls, text: str) -> FeatureRef:
        view, sep, feature = text.partition(":")
        if not sep or not view or not feature or ":" in feature:
            raise ValidationError(f"feature reference {text!r} is not of the form 'view:feature'")
        return cls(view, feature)


def _suggest(name: str, options: list[str]) -> str:
    close = difflib.get_close_matches(name, options, n=3, cutoff=0.5)
    return (
        f"; did you mean {', '.join(map(repr, close))}?"
        if close
        else f"; known: {sorted(options)[:10]}"
    )


def suggest(name: str, options: list[str]) -> str:
    return _suggest(name, options)


Definition = Entity | FeatureView | FeatureService
