"""``FeatureStore``: apply definitions, build training sets, materialize, serve online.

Named after Feast's so that a Feast user moves over by changing imports.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from rich.progress import Progress

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
    Field,
    suggest,
)
from modelyard.features._offline import (
    RetrievalJob,
    arrow_batches,
    build_query,
    check_source,
    connect,
    source_sql,
)
from modelyard.features._on_demand import OnDemandFeatureView
from modelyard.features._online import (
    PAYLOAD,
    OnlineStore,
    encode_batch,
    entity_key,
    open_online_store,
)
from modelyard.features._repo import load_definitions
from modelyard.tracking import Client
from modelyard.tracking import _fluent as tracking

BATCH = 100_000  # rows per Arrow batch and per online-store transaction


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
    join_keys: tuple[str, ...]
    columns: tuple[tuple[str, str], ...]  # (feature, output column)
    ttl_ms: float | None


@dataclass(frozen=True)
class _OnlinePlan:
    """A resolved ``get_online_features`` request, cached per (features, full_feature_names)."""

    service: FeatureService | None  # the object the plan was made for, when it is a service
    plain: list[str] | FeatureService
    odfvs: list[tuple[OnDemandFeatureView, list[str]]]
    helpers: list[str]
    views: tuple[_ViewPlan, ...]  # empty when on-demand views are involved


def _json_value(feature: Field) -> str:
    quoted = feature.name.replace("'", "''")
    value = f"struct_extract(__v, '{quoted}')"
    if feature.dtype in (DType.FLOAT32, DType.FLOAT64):
        return f"CASE WHEN isfinite({value}::DOUBLE) THEN {value}::DOUBLE END"
    return value


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
    ) -> None:
        """``memory_limit`` (e.g. ``"4GB"``; default ``$MODELYARD_DUCKDB_MEMORY``, else DuckDB's
        80% of RAM) caps what training-set joins and materialization hold in memory: beyond it
        DuckDB spills to disk, so joins larger than memory still finish."""
        self.repo_path = Path(repo_path).absolute()
        self.memory_limit = memory_limit or os.environ.get("MODELYARD_DUCKDB_MEMORY") or None
        self.threads = threads
        self.project = project or self.repo_path.name or "default"
        self._client = Client(tracking_uri) if tracking_uri else tracking.get_client()
        self._online_uri = online_store or os.environ.get("MODELYARD_ONLINE_STORE")
        self._online: OnlineStore | None = None
        self._definitions: list[Definition | OnDemandFeatureView] | None = None
        self._plans: dict[tuple[Any, ...], _OnlinePlan] = {}
        self._plans_for: object = None  # the definitions the cached plans were resolved from

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
        """Record the definitions (all of the repo's by default); checks every source first."""
        if objects is not None:
            self._definitions = list(
                {(_kind(d), d.name): d for d in [*(self._definitions or []), *objects]}.values()
            )
        self._plans = {}
        definitions = list(objects) if objects is not None else self._loaded()
        con = connect(self.threads, self.memory_limit, repo=self.repo_path)
        for view in (d for d in definitions if isinstance(d, FeatureView)):
            check_source(con, view, self.repo_path)
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
        query = build_query(
            connect(self.threads, self.memory_limit, repo=self.repo_path),
            entity_df,
            requests,
            self.repo_path,
            full_feature_names=use_full,
            timestamp=timestamp_column,
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

        column_rules = (quality.NotNull, quality.InRange, quality.AllowedValues)
        checks = []
        for view, names in requests:
            for expectation in view.expectations:
                if isinstance(expectation, column_rules) and expectation.column in names:
                    alias = (
                        f"{view.name}__{expectation.column}"
                        if full_feature_names
                        else expectation.column
                    )
                    checks.append((view, replace(expectation, column=alias)))

        def check(con: Any, relation: str) -> None:
            for view in {v.name: v for v, _ in checks}.values():
                mine = [e for v, e in checks if v.name == view.name]
                failures = quality.evaluate(con, relation, mine, {})
                quality.enforce(
                    failures, f"training set (feature view {view.name!r})", view.warn_only
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
        online store, in batches; safe to re-run (a value is only replaced by a newer one)."""
        if end_date <= start_date:
            raise ValidationError(f"materialize: end {end_date} is not after start {start_date}")
        counts: dict[str, int] = {}
        views = (
            [self.get_feature_view(n) for n in feature_views]
            if feature_views
            else [v for v in self._views().values() if v.online]
        )
        for view in views:
            counts[view.name] = self._materialize_view(
                view, _ms(start_date), _ms(end_date), progress
            )
        return counts

    def materialize_incremental(
        self,
        end_date: datetime,
        feature_views: Sequence[str] | None = None,
        *,
        progress: bool = True,
    ) -> dict[str, int]:
        """Materialize from where the last completed run stopped (or the TTL window) to ``end_date``."""
        counts: dict[str, int] = {}
        views = (
            [self.get_feature_view(n) for n in feature_views]
            if feature_views
            else [v for v in self._views().values() if v.online]
        )
        end = _ms(end_date)
        for view in views:
            mark = self._client.store.features.watermark(
                self.project, view.name, self.online_store.uri
            )
            if mark is None:
                ttl = view.ttl or timedelta(days=3650)
                mark = end - int(ttl.total_seconds() * 1000)
            if mark < end:
                counts[view.name] = self._materialize_view(view, mark, end, progress)
            else:
                counts[view.name] = 0
        return counts

    def _materialize_view(self, view: FeatureView, start: int, end: int, progress: bool) -> int:
        con = connect(self.threads, self.memory_limit, repo=self.repo_path)
        check_source(con, view, self.repo_path)
        src = view.source
        keys = ", ".join(f'"{k}"' for k in view.join_keys)
        stamp = f'"{src.timestamp_field}"::TIMESTAMPTZ'
        # the latest row per entity: by event time, then (re-writes) by created time, NULL lowest
        rank = stamp
        if src.created_timestamp_column:
            rank = (
                f"epoch_us({stamp})::HUGEINT * 18446744073709551616 + coalesce(epoch_us("
                f'"{src.created_timestamp_column}"::TIMESTAMPTZ)::HUGEINT + 9223372036854775808, 0)'
            )
        packed = ", ".join(
            [f"__ms := epoch_ms({stamp})", *(f'"{f}" := "{f}"' for f in view.feature_names)]
        )
        window = (
            f"(SELECT * FROM {source_sql(view, self.repo_path)} WHERE {stamp} >= make_timestamptz({start} * 1000) "
            f"AND {stamp} <= make_timestamptz({end} * 1000))"
        )
        # one hash aggregate, no window function over the source rows
        latest = f"SELECT {keys}, arg_max(struct_pack({packed}), {rank}) AS __v FROM {window} GROUP BY ALL"
        sql = f"SELECT {keys}, __v.* FROM ({latest})"
        if all(f.dtype is not DType.DATETIME for f in view.schema):
            # the payloads written by DuckDB: the JSON orjson would write for the same values
            # (floats as doubles in shortest round-trip form, NaN and infinities as null)
            sql = (
                f"SELECT {keys}, __v.__ms AS __ms, to_json(struct_pack("
                + ", ".join(f'"{f.name}" := {_json_value(f)}' for f in view.schema)
                + f"))::BLOB AS {PAYLOAD} FROM ({latest})"
            )
        context = {
            "keys": view.join_keys,
            "timestamp": src.timestamp_field,
            "created": src.created_timestamp_column,
            "now": f"make_timestamptz({end} * 1000)",
        }
        quality.enforce(
            quality.evaluate(con, window, view.expectations, context),
            f"feature view {view.name!r} ({src.path})",
            view.warn_only,
        )
        total = None
        if progress:  # a cheap count (keys only) for the bar; never the whole query twice
            total = int(
                con.execute(
                    f"SELECT count(*) FROM (SELECT DISTINCT {keys} FROM {window})"
                ).fetchall()[0][0]
            )
        reader = arrow_batches(con, sql, BATCH)
        n_keys = len(view.join_keys)
        names = view.feature_names
        written = 0
        with Progress(transient=True, disable=not progress) as bar:
            task = bar.add_task(f"materialize {view.name}", total=total)
            for batch in reader:
                encoded = encode_batch(batch, n_keys, names)
                self.online_store.write_encoded(self.project, view.name, encoded)
                written += batch.num_rows
                bar.advance(task, batch.num_rows)
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
                    join_keys=tuple(view.join_keys),
                    columns=tuple(
                        (n, f"{view.name}__{n}" if full_feature_names else n) for n in names
                    ),
                    ttl_ms=None if view.ttl is None else view.ttl.total_seconds() * 1000,
                )
                for view, names in requests
            )
        plan = _OnlinePlan(service, plain, odfvs, helpers, views)
        if self._plans_for is not self._definitions:  # resolving loaded the definitions
            self._plans, self._plans_for = {}, self._definitions
        self._plans[cache_key] = plan
        return plan

    def get_online_features(
        self,
        features: Sequence[str] | FeatureService,
        entity_rows: Sequence[dict[str, Any]],
        *,
        full_feature_names: bool = False,
    ) -> OnlineResponse:
        """Latest values for each entity row; missing or stale (beyond TTL) values are None,
        flagged in ``statuses``. An entity never materialized is missing, not an error."""
        plan = self._online_plan(features, full_feature_names)
        plain, odfvs, helpers = plan.plain, plan.odfvs, plan.helpers
        if odfvs and not isinstance(plain, FeatureService):
            base = self.get_online_features(
                [*plain, *helpers], entity_rows, full_feature_names=True
            )
            frame = pd.DataFrame(base.rows)
            renames = {}
            if not full_feature_names:
                renames = {
                    c: c.split("__", 1)[1]
                    for c in frame.columns
                    if "__" in c and c.replace("__", ":", 1) not in helpers
                }
                frame = frame.rename(columns=renames)
            frame = self._apply_on_demand(frame, odfvs, helpers, full_feature_names)
            rows_out = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
            flags = []
            for i, row in enumerate(rows_out):
                known = {renames.get(k, k): v for k, v in base.statuses[i].items()}
                flags.append(
                    {
                        k: known.get(k, "PRESENT" if row[k] is not None else "NOT_FOUND")
                        for k in row
                        if k not in entity_rows[i]
                    }
                )
            return OnlineResponse(rows=rows_out, statuses=flags)
        now = datetime.now(tz=UTC).timestamp() * 1000
        rows: list[dict[str, Any]] = [dict(r) for r in entity_rows]
        statuses: list[dict[str, str]] = [{} for _ in entity_rows]
        store = self.online_store
        for vp in plan.views:
            for k in vp.join_keys:
                if any(k not in r for r in entity_rows):
                    raise ValidationError(
                        f"entity rows lack the join key {k!r} of feature view {vp.view.name!r}"
                    )
            if len(vp.join_keys) == 1:
                only = vp.join_keys[0]
                keys = [str(r[only]) for r in entity_rows]
            else:
                keys = [entity_key([r[k] for k in vp.join_keys]) for r in entity_rows]
            found = store.read(self.project, vp.view.name, list(dict.fromkeys(keys)))
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
