"""Feature definitions written in YAML (``*.yaml`` in a feature repository), for teams that
keep definitions as configuration. A mistake is reported with its file and line.

```yaml
entities:
  - {name: applicant, join_keys: [applicant_id]}
feature_views:
  - name: finances
    entities: [applicant]
    ttl: 30d                      # s, m, h, d or w
    schema:
      - {name: income, dtype: Float64}
      - {name: segment, dtype: String}
    source: {path: data/finances.parquet, timestamp_field: event_time, created_timestamp_column: created}
    owner: risk-team
  - name: lake_finances           # a table of the Spark session's catalog (Spark engine)
    entities: [applicant]
    schema: [{name: income, dtype: Float64}]
    source: {table: lake.finances, timestamp_field: event_time}
feature_services:
  - {name: credit_v1, features: [finances, "bureau:open_loans"]}
```
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from modelyard.core.errors import ValidationError
from modelyard.core.signature import DType
from modelyard.core.validation import parse_duration
from modelyard.features._definitions import (
    Definition,
    Entity,
    FeatureService,
    FeatureView,
    FeatureViewProjection,
    Field,
    FileSource,
)
from modelyard.features._sources import SparkSource

_DTYPES = {d.value: d for d in DType} | {"Float64": DType.FLOAT64, "Float32": DType.FLOAT32, "Int64": DType.INT64, "Int32": DType.INT32, "String": DType.STRING, "Bool": DType.BOOL, "UnixTimestamp": DType.DATETIME}


class _Map(dict[str, Any]):
    line = 0
    key_lines: dict[str, int]


class _List(list[Any]):
    line = 0


def _build(node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        out = _Map()
        out.line = node.start_mark.line + 1
        out.key_lines = {}
        for key_node, value_node in node.value:
            key = str(_build(key_node))
            out[key] = _build(value_node)
            out.key_lines[key] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        items = _List(_build(n) for n in node.value)
        items.line = node.start_mark.line + 1
        return items
    return yaml.safe_load(yaml.serialize(node)) if node.tag != "tag:yaml.org,2002:str" else node.value


class _Reader:
    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, line: int, message: str) -> ValidationError:
        return ValidationError(f"{self.path}:{line}: {message}")

    def mapping(self, value: Any, where: str, line: int) -> _Map:
        if not isinstance(value, _Map):
            raise self.fail(getattr(value, "line", line), f"{where} must be a mapping")
        return value

    def known(self, item: _Map, allowed: set[str], what: str) -> None:
        for key in item:
            if key not in allowed:
                raise self.fail(item.key_lines.get(key, item.line), f"{what}: unknown key {key!r}; allowed: {sorted(allowed)}")

    def required(self, item: _Map, key: str, what: str) -> Any:
        if key not in item:
            raise self.fail(item.line, f"{what} needs {key!r}")
        return item[key]


def _ttl(reader: _Reader, value: Any, line: int) -> timedelta | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return timedelta(seconds=value)
    try:
        return parse_duration(value, "ttl")
    except ValidationError as error:
        raise reader.fail(line, str(error)) from None


def _source(reader: _Reader, source: _Map, what: str) -> FileSource | SparkSource:
    """A file (``path:``) or a table of the Spark session's catalog (``table:``)."""
    if "table" in source:
        if "path" in source:
            raise reader.fail(source.key_lines["table"], f"{what}: give 'path' (a file) or 'table' (a Spark table), not both")
        reader.known(source, {"table", "timestamp_field", "created_timestamp_column", "name"}, f"{what} (a Spark table)")
        table = reader.required(source, "table", what)
        if not isinstance(table, str) or not table.strip():
            raise reader.fail(source.key_lines["table"], f"{what}: table must name a Spark table, e.g. lake.driver_stats; got {table!r}")
        return SparkSource(
            table=table,
            timestamp_field=str(reader.required(source, "timestamp_field", what)),
            created_timestamp_column=source.get("created_timestamp_column"),
            name=source.get("name"),
        )
    reader.known(source, {"path", "timestamp_field", "created_timestamp_column", "name", "file_format"}, what)
    if "path" not in source:
        raise reader.fail(source.line, f"{what} needs 'path' (a Parquet or CSV file) or 'table' (a Spark table)")
    return FileSource(
        path=str(source["path"]),
        timestamp_field=str(reader.required(source, "timestamp_field", what)),
        created_timestamp_column=source.get("created_timestamp_column"),
        name=source.get("name"),
        file_format=str(source.get("file_format", "parquet")),
    )


def load_yaml(path: Path, known: dict[tuple[str, str], Any]) -> list[Definition]:
    """Definitions from one YAML file; ``known`` holds definitions from the repository's
    other files (entities and views may be referred to across files)."""
    reader = _Reader(path)
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        raise ValidationError(f"{path}:{mark.line + 1 if mark else '?'}: not valid YAML ({getattr(error, 'problem', error)})") from None
    if root is None:
        return []
    data = reader.mapping(_build(root), "the file", 1)
    reader.known(data, {"entities", "feature_views", "feature_services"}, "the file")
    out: list[Definition] = []
    entities = {name: value for (kind, name), value in known.items() if kind == "Entity"}
    views = {name: value for (kind, name), value in known.items() if kind == "FeatureView"}

    def section(key: str) -> list[Any]:
        items = data.get(key) or []
        if not isinstance(items, list):
            raise reader.fail(data.key_lines.get(key, 1), f"{key} must be a list")
        return items

    try:
        for raw in section("entities"):
            item = reader.mapping(raw, "an entity", data.line)
            reader.known(item, {"name", "join_keys", "dtype", "description"}, "entity")
            try:
                entity = Entity(
                    name=reader.required(item, "name", "an entity"),
                    join_keys=item.get("join_keys"),
                    dtype=_DTYPES.get(str(item.get("dtype", "int64")), str(item.get("dtype"))),
                    description=str(item.get("description", "")),
                )
            except ValueError as error:
                raise reader.fail(item.line, f"entity: {error}") from None
            entities[entity.name] = entity
            out.append(entity)
        for raw in section("feature_views"):
            item = reader.mapping(raw, "a feature view", data.line)
            what = f"feature view {item.get('name', '?')!r}"
            reader.known(item, {"name", "entities", "schema", "source", "ttl", "online", "description", "owner", "tags", "warn_only"}, what)
            names = reader.required(item, "entities", what)
            chosen = []
            for name in names if isinstance(names, list) else [names]:
                if name not in entities:
                    raise reader.fail(item.key_lines.get("entities", item.line), f"{what}: entity {name!r} is not defined; entities: {sorted(entities)}")
                chosen.append(entities[name])
            fields = []
            for raw_field in reader.required(item, "schema", what) or []:
                spec = reader.mapping(raw_field, f"{what}: a schema entry", item.line)
                reader.known(spec, {"name", "dtype", "description"}, f"{what}: schema entry")
                dtype = str(spec.get("dtype", "Float64"))
                if dtype not in _DTYPES:
                    raise reader.fail(spec.line, f"{what}: dtype {dtype!r} is not one of {sorted(_DTYPES)}")
                fields.append(Field(name=reader.required(spec, "name", f"{what}: a schema entry"), dtype=_DTYPES[dtype], description=str(spec.get("description", ""))))
            source = reader.mapping(reader.required(item, "source", what), f"{what}: source", item.line)
            view = FeatureView(
                name=reader.required(item, "name", "a feature view"),
                entities=chosen,
                schema=fields,
                source=_source(reader, source, f"{what}: source"),
                ttl=_ttl(reader, item.get("ttl"), item.key_lines.get("ttl", item.line)),
                online=bool(item.get("online", True)),
                description=str(item.get("description", "")),
                owner=str(item.get("owner", "")),
                tags={str(k): str(v) for k, v in (item.get("tags") or {}).items()},
                warn_only=bool(item.get("warn_only", False)),
            )
            views[view.name] = view
            out.append(view)
        for raw in section("feature_services"):
            item = reader.mapping(raw, "a feature service", data.line)
            what = f"feature service {item.get('name', '?')!r}"
            reader.known(item, {"name", "features", "description"}, what)
            projections: list[FeatureView | FeatureViewProjection] = []
            grouped: dict[str, list[str]] = {}
            for ref in reader.required(item, "features", what) or []:
                view_name, _, feature = str(ref).partition(":")
                if view_name not in views:
                    raise reader.fail(item.key_lines.get("features", item.line), f"{what}: feature view {view_name!r} is not defined; views: {sorted(views)}")
                if feature:
                    grouped.setdefault(view_name, []).append(feature)
                else:
                    projections.append(views[view_name])
            for view_name, features in grouped.items():
                projections.append(views[view_name][features])
            out.append(FeatureService(name=reader.required(item, "name", "a feature service"), features=projections, description=str(item.get("description", ""))))
    except ValidationError as error:
        if str(error).startswith(str(path)):
            raise
        line = getattr(locals().get("item"), "line", 1)
        raise ValidationError(f"{path}:{line}: {error}") from None
    return out
