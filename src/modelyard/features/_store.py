"""``FeatureStore``: apply definitions, build training sets, materialize, serve online.

Named after Feast's so that a Feast user moves over by changing imports.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from modelyard.core.errors import NotFoundError, ValidationError
from modelyard.core.settings import home_dir
from modelyard.core.signature import DType
from modelyard.data import from_pandas
from modelyard.features import _quality as quality
from modelyard.features._definitions import (
    Definition,
    Entity,
    FeatureRef,
    FeatureService,
    FeatureView,
    suggest,
)
from modelyard.features._entity_keys import KeySpec, cap, check_request_value, encode_keys
from modelyard.features._materialize import materialize_view
from modelyard.features._materialize_spark import materialize_view_spark
from modelyard.features._offline import (
    Engine,
    OfflineQuery,
    RetrievalJob,
    build_query,
    check_source,
    hit_column,
)
from modelyard.features._offline_spark import (
    build_spark_query,
    check_spark_source,
    spark_session,
)
from modelyard.features._on_demand import OnDemandFeatureView, RequestSource
from modelyard.features._online import OnlineStore, open_online_store
from modelyard.features._repo import load_definitions
from modelyard.features._settings import load_settings, parse_settings
from modelyard.features._sources import SparkSource
from modelyard.tracking import Client
from modelyard.tracking import _fluent as tracking

if TYPE_CHECKING:
    import duckdb

EntityRows = Sequence[Mapping[str, Any]] | Mapping[str, Sequence[Any]]
_MISSING = object()  # a key some entity rows give and this one does not
# columns, count, how to name one value, how to name them all, every row complete
_Entities = tuple[dict[str, Sequence[Any]], int, Callable[[str, int], str], str, bool]


@dataclass
class Plan:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.added or self.changed or self.removed)


@dataclass
class OnlineResponse:
    """Feature values per entity row; ``statuses`` says PRESENT, NOT_FOUND or OUTSIDE_TTL."""

    rows: list[dict[str, Any]]
    statuses: list[dict[str, str]]

    def to_dict(self) -> dict[str, list[Any]]:
        keys = list(self.rows[0]) if self.rows else []
        return {k: [r.get(k) for r in self.rows] for k in keys}

    def to_df(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows)


@dataclass(frozen=True)
class _ViewPlan:
    view: FeatureView
    keys: tuple[KeySpec, ...]  # the join keys, typed by their entities
    columns: tuple[tuple[str, str], ...]  # (feature, output column)
    ttl_ms: float | None


def _key_specs(view: FeatureView) -> tuple[KeySpec, ...]:
    return tuple(KeySpec(k, e.dtype, e.name) for e in view.entities for k in e.join_keys)


def _in_rows(key: str, i: int) -> str:
    return f"entity_rows[{i}][{key!r}]"


def _in_columns(key: str, i: int) -> str:
    return f"entities.{key}[{i}]"


def _entity_columns(entity_rows: EntityRows) -> _Entities:
    """Entity rows (dicts) or Feast's columnar form (one dict of lists) as columns, with their
    count, how to name one value in an error, how to name the whole, and whether every row had
    every key (else the gaps hold ``_MISSING``)."""
    if type(entity_rows) is list and all(type(r) is dict for r in entity_rows):  # the usual
        rows: Sequence[Mapping[str, Any]] = entity_rows
        if len(rows) == 1:
            return {k: [v] for k, v in rows[0].items()}, 1, _in_rows, "entity rows", True
    elif isinstance(entity_rows, Mapping):
        columns: dict[str, Sequence[Any]] = {}
        for key, values in entity_rows.items():
            if hasattr(values, "tolist"):  # a NumPy array or a pandas Series
                values = values.tolist()
            if isinstance(values, str | bytes | Mapping) or not isinstance(values, Sequence):
                raise ValidationError(f"entities[{cap(key)}] must be a list of values")
            columns[key] = values
        lengths = {len(v) for v in columns.values()}
        if len(lengths) > 1:
            raise ValidationError("every list in 'entities' must have the same length")
        return columns, lengths.pop() if lengths else 0, _in_columns, "entities", True
    elif isinstance(entity_rows, str | bytes) or not isinstance(entity_rows, Sequence):
        raise ValidationError(
            "entity_rows must be a list of dicts (join key -> value) or a dict of join key -> list"
        )
    else:
        rows = entity_rows
    names: dict[str, None] = {}
    complete = True
    for i, row in enumerate(rows):
        if type(row) is not dict and not isinstance(row, Mapping):
            raise ValidationError(
                f"entity_rows[{i}] must be a dict of join key -> value, got {type(row).__name__}"
            )
        if i == 0:
            names = dict.fromkeys(row)
        elif row.keys() != names.keys():
            complete = False
            names.update(dict.fromkeys(row))
    if complete:
        columns = {k: [r[k] for r in rows] for k in names}
    else:
        columns = {k: [r.get(k, _MISSING) for r in rows] for k in names}
    return columns, len(rows), _in_rows, "entity rows", complete


@dataclass(frozen=True)
class _OnlinePlan:
    """A resolved ``get_online_features`` request, cached per (features, full_feature_names)."""

    service: FeatureService | None  # the object the plan was made for, when it is a service
    plain: list[str] | FeatureService
    odfvs: list[tuple[OnDemandFeatureView, list[str]]]
    helpers: list[str]
    views: tuple[_ViewPlan, ...]  # empty when on-demand views are involved
    specs: dict[str, tuple[KeySpec, str]]  # each join key, and the first view that needs it
    groups: tuple[tuple[KeySpec, ...], ...]  # the distinct join-key tuples of the views


def _kind(definition: Definition | OnDemandFeatureView) -> str:
    return type(definition).__name__


def _ms(value: datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp() * 1000)


class FeatureStore:
    """Features declared in Python in ``repo_path``, recorded in the metadata store."""

    def __init__(
        self,
        repo_path: str | os.PathLike[str] = ".",
        *,
        project: str | None = None,
        tracking_uri: str | None = None,
        online_store: str | None = None,
        memory_limit: str | None = None,
        threads: int | None = None,
        offline_engine: Literal["duckdb", "spark"] | None = None,
    ) -> None:
        """``memory_limit`` (e.g. ``"4GB"``; default ``$MODELYARD_DUCKDB_MEMORY``, else DuckDB's
        80% of RAM) caps what training-set joins and materialization hold in memory: beyond it
        DuckDB spills to disk, so joins larger than memory still finish.

        ``offline_engine`` (default: the repository's ``feature_store.yaml``, else DuckDB)
        chooses what computes training sets; ``spark`` uses the settings' ``spark`` master and
        conf."""
        self.repo_path = Path(repo_path).absolute()
        self.settings = load_settings(self.repo_path)
        if offline_engine is not None:
            self.settings = parse_settings(
                {**self.settings.model_dump(), "offline_engine": offline_engine},
                "FeatureStore(offline_engine=...)",
            )
        self.memory_limit = memory_limit or os.environ.get("MODELYARD_DUCKDB_MEMORY") or None
        self.threads = threads
        self.project = project or self.repo_path.name or "default"
        self._client = Client(tracking_uri) if tracking_uri else tracking.get_client()
        self._online_uri = online_store or os.environ.get("MODELYARD_ONLINE_STORE")
        self._online: OnlineStore | None = None
        self._definitions: list[Definition | OnDemandFeatureView] | None = None
        self._plans: dict[tuple[Any, ...], _OnlinePlan] = {}
        self._plans_for: object = None  # the definitions the cached plans were resolved from
        self._engine = Engine()

    def _duckdb(self) -> duckdb.DuckDBPyConnection:
        """A new connection to this store's DuckDB database (opened once, on first use)."""
        return self._engine.session(self.threads, self.memory_limit, self.repo_path)

    # -- definitions -------------------------------------------------------------------

    def _loaded(self) -> list[Definition | OnDemandFeatureView]:
        if self._definitions is None:
            self._definitions = load_definitions(self.repo_path)
        return self._definitions

    def _views(self) -> dict[str, FeatureView]:
        return {d.name: d for d in self._loaded() if isinstance(d, FeatureView)}

    def _on_demand(self) -> dict[str, OnDemandFeatureView]:
        return {d.name: d for d in self._loaded() if isinstance(d, OnDemandFeatureView)}

    def _split(
        self, features: Sequence[str] | FeatureService
    ) -> tuple[list[str] | FeatureService, list[tuple[OnDemandFeatureView, list[str]]], list[str]]:
        """Stored features as asked, the on-demand ones, and the stored features those need."""
        if isinstance(features, FeatureService):
            return features, [], []
        on_demand = self._on_demand()
        plain: list[str] = []
        wanted: dict[str, list[str]] = {}
        for text in features:
            ref = FeatureRef.parse(text)
            if ref.view in on_demand:
                if ref.feature not in on_demand[ref.view].feature_names:
                    options = [f"{ref.view}:{n}" for n in on_demand[ref.view].feature_names]
                    raise NotFoundError(
                        f"feature reference {text!r} names nothing{suggest(text, options)}"
                    )
                wanted.setdefault(ref.view, []).append(ref.feature)
            else:
                plain.append(text)
        needed = [
            f"{v.name}:{n}"
            for view in wanted
            for v in on_demand[view].view_sources
            for n in v.feature_names
        ]
        return (
            plain,
            [(on_demand[v], names) for v, names in wanted.items()],
            [n for n in needed if n not in plain],
        )

    @staticmethod
    def _apply_on_demand(
        frame: pd.DataFrame,
        odfvs: list[tuple[OnDemandFeatureView, list[str]]],
        helpers: list[str],
        full_feature_names: bool,
    ) -> pd.DataFrame:
        for odfv, names in odfvs:
            columns = {}
            for view in odfv.view_sources:
                for n in view.feature_names:
                    columns[n] = (
                        frame[f"{view.name}__{n}"]
                        if f"{view.name}__{n}" in frame.columns
                        else frame[n]
                    )
            inputs = pd.DataFrame(columns, index=frame.index)
            for request in odfv.request_fields:
                if request in frame.columns:
                    inputs[request] = frame[request]
            out = odfv.transform(inputs)
            for n in names:
                frame[f"{odfv.name}__{n}" if full_feature_names else n] = out[n].to_numpy()
        drop = [c for c in (h.replace(":", "__") for h in helpers) if c in frame.columns]
        return frame.drop(columns=sorted(set(drop)))

    def _services(self) -> dict[str, FeatureService]:
        return {d.name: d for d in self._loaded() if isinstance(d, FeatureService)}

    def list_entities(self) -> list[Entity]:
        return [d for d in self._loaded() if isinstance(d, Entity)]

    def list_feature_views(self) -> list[FeatureView]:
        return list(self._views().values())

    def list_feature_services(self) -> list[FeatureService]:
        return list(self._services().values())

    def get_feature_view(self, name: str) -> FeatureView:
        views = self._views()
        if name not in views:
            raise NotFoundError(f"feature view {name!r} does not exist{suggest(name, list(views))}")
        return views[name]

    def get_feature_service(self, name: str) -> FeatureService:
        services = self._services()
        if name not in services:
            raise NotFoundError(
                f"feature service {name!r} does not exist{suggest(name, list(services))}"
            )
        return services[name]

    def plan(self, objects: Sequence[Definition] | None = None) -> Plan:
        """What ``apply`` would change in the metadata store."""
        wanted = {
            (_kind(d), d.name): d.to_spec()
            for d in (objects if objects is not None else self._loaded())
        }
        stored = self._client.store.features.definitions(self.project)
        plan = Plan()
        for key, spec in wanted.items():
            label = f"{key[0]} {key[1]}"
            if key not in stored:
                plan.added.append(label)
            elif stored[key] != spec:
                plan.changed.append(label)
            else:
                plan.unchanged.append(label)
        if objects is None:
            plan.removed = [f"{k} {n}" for (k, n) in stored if (k, n) not in wanted]
        return plan

    def apply(self, objects: Sequence[Definition] | None = None) -> Plan:
        """Record the definitions (all of the repo's by default); checks every source first
        (a ``SparkSource`` through Spark: it can be materialized on any engine)."""
        if objects is not None:
            self._definitions = list(
                {(_kind(d), d.name): d for d in [*(self._definitions or []), *objects]}.values()
            )
        self._plans = {}
        definitions = list(objects) if objects is not None else self._loaded()
        con = self._duckdb()
        for view in (d for d in definitions if isinstance(d, FeatureView)):
            if isinstance(view.source, SparkSource):  # only Spark reads it, whatever the engine
                check_spark_source(spark_session(self.settings.spark), view, self.repo_path, applying=True)
            else:
                check_source(con, view, self.repo_path, applying=True)
        plan = self.plan(objects)
        wanted = {(_kind(d), d.name): d.to_spec() for d in definitions}
        removed = [tuple(label.split(" ", 1)) for label in plan.removed]
        self._client.store.features.apply(self.project, wanted, removed)  # type: ignore[arg-type]
        return plan

    # -- references --------------------------------------------------------------------

    def _resolve(
        self, features: Sequence[str] | FeatureService
    ) -> list[tuple[FeatureView, list[str]]]:
        refs = (
            features.refs
            if isinstance(features, FeatureService)
            else [FeatureRef.parse(f) for f in features]
        )
        if not refs:
            raise ValidationError("no features requested")
        views = self._views()
        grouped: dict[str, list[str]] = {}
        for ref in refs:
            if ref.view not in views:
                raise NotFoundError(
                    f"feature reference {str(ref)!r}: no feature view {ref.view!r}{suggest(ref.view, list(views))}"
                )
            names = views[ref.view].feature_names
            if ref.feature not in names:
                options = [f"{ref.view}:{n}" for n in names]
                raise NotFoundError(
                    f"feature reference {str(ref)!r} names nothing{suggest(str(ref), options)}"
                )
            grouped.setdefault(ref.view, []).append(ref.feature)
        return [(views[v], list(dict.fromkeys(fs))) for v, fs in grouped.items()]

    @staticmethod
    def _check_ambiguity(
        requests: list[tuple[FeatureView, list[str]]], full_feature_names: bool
    ) -> None:
        if full_feature_names:
            return
        seen: dict[str, str] = {}
        for view, features in requests:
            for f in features:
                if f in seen:
                    raise ValidationError(
                        f"feature {f!r} is requested from both {seen[f]!r} and {view.name!r}; the columns would "
                        "collide — pass full_feature_names=True to name them view__feature"
                    )
                seen[f] = view.name

    # -- offline -----------------------------------------------------------------------

    def get_historical_features(
        self,
        entity_df: pd.DataFrame,
        features: Sequence[str] | FeatureService,
        *,
        full_feature_names: bool = False,
        dataset_name: str | None = None,
        timestamp_column: str = "event_timestamp",
    ) -> RetrievalJob:
        """A point-in-time-correct training set for the rows of ``entity_df``.

        ``to_df()`` returns it; when a run is active the result is recorded as its
        ``training`` input (a dataset version named ``dataset_name``).
        """
        plain, odfvs, helpers = self._split(features)
        if isinstance(plain, FeatureService):
            requests = self._resolve(plain)
        else:
            if not plain and not helpers:
                raise ValidationError(
                    "an on-demand feature view needs a feature view among its sources"
                )
            requests = self._resolve([*plain, *helpers])
        use_full = full_feature_names or bool(helpers)
        self._check_ambiguity(requests, use_full)
        column_rules = (quality.NotNull, quality.InRange, quality.AllowedValues)
        checks: list[tuple[FeatureView, quality.Expectation]] = []
        for view, names in requests:
            for expectation in view.expectations:
                if isinstance(expectation, column_rules) and expectation.column in names:
                    alias = f"{view.name}__{expectation.column}" if use_full else expectation.column
                    checks.append((view, replace(expectation, column=alias)))
        hits = sorted({v.name for v, e in checks if isinstance(e, quality.NotNull)})
        query: OfflineQuery
        if self.settings.offline_engine == "spark":
            query = build_spark_query(
                spark_session(self.settings.spark),
                entity_df,
                requests,
                self.repo_path,
                full_feature_names=use_full,
                timestamp=timestamp_column,
                hits=hits,
            )
        else:
            query = build_query(
                self._duckdb(),
                entity_df,
                requests,
                self.repo_path,
                full_feature_names=use_full,
                timestamp=timestamp_column,
                hits=hits,
            )
        name = dataset_name or (
            features.name if isinstance(features, FeatureService) else "training-set"
        )

        def record(frame: pd.DataFrame) -> None:
            run = tracking.active_run()
            if run is not None:
                self._client.log_input(
                    run.info.run_id,
                    from_pandas(frame, name=name, source=f"features:{self.project}"),
                    context="training",
                )
                if isinstance(features, FeatureService):  # the model's lineage names it
                    self._client.set_tag(run.info.run_id, "modelyard.feature_service", features.name)

        def check(con: Any, relation: str) -> None:
            """Expectations over the values found; point-in-time misses are nulls, not failures."""
            for view in {v.name: v for v, _ in checks}.values():
                mine = [e for v, e in checks if v.name == view.name]
                quality.check_training_set(
                    con, relation, view.name, mine, hit_column(view.name), view.warn_only
                )

        def post(frame: pd.DataFrame) -> pd.DataFrame:
            if not full_feature_names:  # helpers forced qualified names: give plain ones back
                renames = {
                    f"{v.name}__{n}": n
                    for v, names in requests
                    for n in names
                    if f"{v.name}:{n}" not in helpers
                }
                frame = frame.rename(columns=renames)
            return self._apply_on_demand(frame, odfvs, helpers, full_feature_names)

        return RetrievalJob(
            query, on_result=record, check=check if checks else None, post=post if odfvs else None
        )

    # -- online ------------------------------------------------------------------------

    @property
    def online_store(self) -> OnlineStore:
        if self._online is None:
            self._online = open_online_store(self._online_uri, home_dir())
        return self._online

    def materialize(
        self,
        start_date: datetime,
        end_date: datetime,
        feature_views: Sequence[str] | None = None,
        *,
        progress: bool = True,
    ) -> dict[str, int]:
        """Load each view's latest values per entity with event times in [start, end] into the
        online store; safe to re-run (a value is only replaced by a newer one).

        Each view is written as a new generation of its online rows, switched in atomically
        when complete: readers see the previous values or the new ones, never a mix, and a
        materialization that fails or is killed leaves the previous generation serving.

        With ``offline_engine: spark`` (and for any view whose source is a ``SparkSource``)
        Spark computes the latest rows, with the same answers, and the driver writes them
        partition by partition into that one generation."""
        if end_date <= start_date:
            raise ValidationError(f"materialize: end {end_date} is not after start {start_date}")
        counts: dict[str, int] = {}
        for view in self._online_views(feature_views):
            counts[view.name] = self._materialize_view(
                view, _ms(start_date), _ms(end_date), progress, incremental=False
            )
        return counts

    def _online_views(self, names: Sequence[str] | None) -> list[FeatureView]:
        if names:
            return [self.get_feature_view(n) for n in names]
        return [v for v in self._views().values() if v.online]

    def materialize_incremental(
        self,
        end_date: datetime,
        feature_views: Sequence[str] | None = None,
        *,
        progress: bool = True,
    ) -> dict[str, int]:
        """Materialize from where the last completed run stopped (or the TTL window) to ``end_date``.

        An increment is written into the view's current generation in one transaction (SQLite)
        or one script (Redis, up to ``IN_PLACE`` rows; more build a new generation), so it is
        as atomic for readers as ``materialize`` without copying the view. A view the online
        store does not hold yet (or holds in an older format) starts from the TTL window."""
        counts: dict[str, int] = {}
        end = _ms(end_date)
        for view in self._online_views(feature_views):
            mark = None
            if self.online_store.state(self.project, view.name) == "ready":
                mark = self._client.store.features.watermark(
                    self.project, view.name, self.online_store.uri
                )
            if mark is None:
                ttl = view.ttl or timedelta(days=3650)
                mark = end - int(ttl.total_seconds() * 1000)
            if mark < end:
                counts[view.name] = self._materialize_view(
                    view, mark, end, progress, incremental=True
                )
            else:
                counts[view.name] = 0
        return counts

    def _materialize_view(
        self, view: FeatureView, start: int, end: int, progress: bool, *, incremental: bool
    ) -> int:
        on_spark = self.settings.offline_engine == "spark" or isinstance(view.source, SparkSource)
        run = materialize_view_spark if on_spark else materialize_view
        written = run(
            spark_session(self.settings.spark) if on_spark else self._duckdb(),
            self.online_store,
            self.project,
            view,
            self.repo_path,
            (start, end),
            progress=progress,
            incremental=incremental,
        )
        self._client.store.features.record_materialization(
            self.project, view.name, self.online_store.uri, start, end, written
        )
        return written

    def _online_plan(
        self, features: Sequence[str] | FeatureService, full_feature_names: bool
    ) -> _OnlinePlan:
        """The resolved request, from the cache when the same features were asked before (the
        cache is emptied by ``apply`` and whenever the definitions are replaced)."""
        if self._plans_for is not self._definitions:
            self._plans, self._plans_for = {}, self._definitions
        service = features if isinstance(features, FeatureService) else None
        cache_key: tuple[Any, ...] = (
            ("service", features.name, full_feature_names)
            if isinstance(features, FeatureService)
            else (tuple(features), full_feature_names)
        )
        plan = self._plans.get(cache_key)
        if plan is not None and plan.service is service:
            return plan
        plain, odfvs, helpers = self._split(features)
        views: tuple[_ViewPlan, ...] = ()
        if not (odfvs and not isinstance(plain, FeatureService)):
            requests = self._resolve(features)
            self._check_ambiguity(requests, full_feature_names)
            views = tuple(
                _ViewPlan(
                    view=view,
                    keys=_key_specs(view),
                    columns=tuple(
                        (n, f"{view.name}__{n}" if full_feature_names else n) for n in names
                    ),
                    ttl_ms=None if view.ttl is None else view.ttl.total_seconds() * 1000,
                )
                for view, names in requests
            )
        specs: dict[str, tuple[KeySpec, str]] = {}
        for vp in views:
            for spec in vp.keys:
                specs.setdefault(spec.name, (spec, vp.view.name))
        groups = tuple(dict.fromkeys(vp.keys for vp in views))
        plan = _OnlinePlan(service, plain, odfvs, helpers, views, specs, groups)
        if self._plans_for is not self._definitions:  # resolving loaded the definitions
            self._plans, self._plans_for = {}, self._definitions
        self._plans[cache_key] = plan
        return plan

    def get_online_features(
        self,
        features: Sequence[str] | FeatureService,
        entity_rows: EntityRows,
        *,
        full_feature_names: bool = False,
    ) -> OnlineResponse:
        """Latest values for each entity; missing or stale (beyond TTL) values are None,
        flagged in ``statuses``. An entity never materialized is missing, not an error.

        ``entity_rows`` is a list of dicts of join key -> value, or (as in Feast) one dict of
        join key -> list of values. Each join key of the requested views is needed, with a
        value of its entity's type (``Int64``: an integer, never ``"1"``, ``1.0``, ``true`` or
        null; ``String``: a string); any other key is refused, except the request values of
        the on-demand views asked for."""
        plan = self._online_plan(features, full_feature_names)
        entities = _entity_columns(entity_rows)
        if entities[1] == 0:
            return OnlineResponse(rows=[], statuses=[])
        if plan.odfvs and not isinstance(plan.plain, FeatureService):
            return self._online_on_demand(plan, entities, full_feature_names)
        return self._lookup(plan, entities, {})

    def _online_on_demand(
        self, plan: _OnlinePlan, entities: _Entities, full_feature_names: bool
    ) -> OnlineResponse:
        """Stored features (and those the on-demand views need), then the transforms."""
        assert not isinstance(plan.plain, FeatureService)
        request = {
            f.name: f.dtype
            for odfv, _ in plan.odfvs
            for source in odfv.sources
            if isinstance(source, RequestSource)
            for f in source.schema
        }
        stored = self._online_plan([*plan.plain, *plan.helpers], True)
        base = self._lookup(stored, entities, request)
        columns = entities[0]
        frame = pd.DataFrame(base.rows)
        renames = {}
        if not full_feature_names:
            renames = {
                c: c.split("__", 1)[1]
                for c in frame.columns
                if "__" in c and c.replace("__", ":", 1) not in plan.helpers
            }
            frame = frame.rename(columns=renames)
        frame = self._apply_on_demand(frame, plan.odfvs, plan.helpers, full_feature_names)
        rows_out = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
        flags = []
        for i, row in enumerate(rows_out):
            known = {renames.get(k, k): v for k, v in base.statuses[i].items()}
            flags.append(
                {
                    k: known.get(k, "PRESENT" if row[k] is not None else "NOT_FOUND")
                    for k in row
                    if k not in columns
                }
            )
        return OnlineResponse(rows=rows_out, statuses=flags)

    def _check_entities(
        self, plan: _OnlinePlan, entities: _Entities, request: dict[str, DType]
    ) -> None:
        """Every join key given (in every row), and nothing but join keys and request values."""
        columns, _, where, label, _ = entities
        specs = plan.specs
        extra = [name for name in columns if name not in specs and name not in request]
        for name, (_, needed_by) in specs.items():
            given = columns.get(name)
            lacking = None if given is None else next(
                (i for i, v in enumerate(given) if v is _MISSING), -1
            )
            if lacking is None or lacking >= 0:
                at = "" if lacking is None else f" (entity_rows[{lacking}])"
                other = f"; {cap(extra[0])} is not a join key" if extra else ""
                raise ValidationError(
                    f"{label} lack the join key {name!r} of feature view {needed_by!r}{at}{other}"
                )
        if extra:
            takes = f" and the request values {sorted(request)}" if request else ""
            raise ValidationError(
                f"{cap(extra[0])} in {label} is not a join key of the requested features; they "
                f"need {sorted(specs)}{takes}, and nothing else"
            )
        for name, dtype in request.items():
            for i, value in enumerate(columns.get(name, ())):
                check_request_value(None if value is _MISSING else value, dtype, where(name, i))

    def _lookup(
        self, plan: _OnlinePlan, entities: _Entities, request: dict[str, DType]
    ) -> OnlineResponse:
        """Check the entities against the plan's typed join keys (and ``request`` values), then
        read each view's rows."""
        columns, count, where, _, complete = entities
        if request or not complete or columns.keys() != plan.specs.keys():
            self._check_entities(plan, entities, request)
        now = time.time() * 1000
        if count == 1:
            rows: list[dict[str, Any]] = [{n: v[0] for n, v in columns.items() if v[0] is not _MISSING}]
        else:
            rows = [
                {n: v[i] for n, v in columns.items() if v[i] is not _MISSING} for i in range(count)
            ]
        statuses: list[dict[str, str]] = [{} for _ in range(count)]
        store = self.online_store
        encoded = {
            group: encode_keys([columns[s.name] for s in group], group, where)
            for group in plan.groups
        }
        for vp in plan.views:
            keys = encoded[vp.keys]
            found = store.read(self.project, vp.view.name, keys if count == 1 else list(dict.fromkeys(keys)))
            for i, key in enumerate(keys):
                hit = found.get(key)
                row, marks = rows[i], statuses[i]
                if hit is None:
                    status = "NOT_FOUND"
                elif vp.ttl_ms is not None and now - hit[1] > vp.ttl_ms:
                    status = "OUTSIDE_TTL"
                else:
                    values = hit[0]
                    for name, column in vp.columns:
                        row[column] = values.get(name)
                        marks[column] = "PRESENT"
                    continue
                for _, column in vp.columns:
                    row[column] = None
                    marks[column] = status
        return OnlineResponse(rows=rows, statuses=statuses)
