"""The native REST API's bodies for the feature registry: applied definitions and
materialization watermarks (``FeatureRegistryStore`` over HTTP).

A definition's spec is the JSON the feature store applies; the registry keeps it opaque, so
the wire does too. Keys that are tuples in Python (``(kind, name)``) travel as objects."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from modelyard.core.wire import Wire

MAX_DEFINITIONS = 10_000


class DefinitionKey(Wire):
    kind: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=256)


class Definition(DefinitionKey):
    spec: dict[str, Any]


class Definitions(Wire):
    definitions: list[Definition]


class ApplyDefinitions(Wire):
    """Replace the changed definitions and drop the removed ones, in one transaction."""

    upserts: list[Definition] = Field(default_factory=list, max_length=MAX_DEFINITIONS)
    deletes: list[DefinitionKey] = Field(default_factory=list, max_length=MAX_DEFINITIONS)


class RecordMaterialization(Wire):
    view: str = Field(min_length=1, max_length=256)
    online_store: str = Field(min_length=1, max_length=4096)
    start: int
    end: int
    rows: int = Field(ge=0)


class Watermark(Wire):
    end: int | None = Field(description="null when the view was never materialized there")


class Projects(Wire):
    projects: list[str]


class Freshness(Wire):
    """The last materialization of one view into one online store."""

    view: str
    online_store: str
    watermark: int
    completed_time: int
    runs: int
    rows: int


class Materializations(Wire):
    materializations: list[Freshness]
