"""The metadata store on SQLAlchemy: SQLite by default, PostgreSQL by URL."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import orjson
from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url

from modelyard.core.entities import (
    DatasetInput,
    DatasetVersion,
    Experiment,
    LifecycleStage,
    Metric,
    PagedList,
    Param,
    Run,
    RunData,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
    metric_value_from_storage,
)
from modelyard.core.errors import (
    ConflictError,
    InvalidStateError,
    NotFoundError,
    ValidationError,
)
from modelyard.core.ids import now_ms
from modelyard.core.search_filter import parse_filter, parse_order_by
from modelyard.store._engine import create_engines
from modelyard.store._errors import translated
from modelyard.store._feature_store import FeatureRegistryStore
from modelyard.store._migrate import ensure_schema
from modelyard.store._monitor_store import MonitorStore
from modelyard.store._pipeline_store import PipelineStore
from modelyard.store._profile_store import ProfileStore
from modelyard.store._registry_store import RegistryStore
from modelyard.store._requests import claim, settle
from modelyard.store._run_pages import MetricSeries, RunKeys, RunsPage, page_runs, run_keys
from modelyard.store._schema import (
    artifacts,
    dataset_versions,
    experiment_tags,
    experiments,
    latest_metrics,
    metrics,
    params,
    run_inputs,
    runs,
    tags,
)
from modelyard.store._search import (
    apply_order,
    check_max_results,
    compile_filter,
    decode_page_token,
    encode_page_token,
)
from modelyard.store._user_store import UserStore
from modelyard.store._webhook_store import WebhookStore
from modelyard.store._writer import Writer

_CHUNK = 500


def _stages(view: ViewType) -> list[str]:
    if view is ViewType.ACTIVE_ONLY:
        return [LifecycleStage.ACTIVE.value]
    if view is ViewType.DELETED_ONLY:
        return [LifecycleStage.DELETED.value]
    return [LifecycleStage.ACTIVE.value, LifecycleStage.DELETED.value]


def _experiment_key(experiment_id: str | int) -> int:
    try:
        return int(experiment_id)
    except (TypeError, ValueError):
        raise NotFoundError(
            f"experiment {experiment_id!r} does not exist (experiment ids are numbers)"
        ) from None


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _dataset(row: Any) -> DatasetVersion:
    return DatasetVersion(
        name=row.name,
        digest=row.digest,
        source_type=row.source_type,
        source=row.source,
        num_rows=row.num_rows,
        schema=orjson.loads(row.schema),
        profile=orjson.loads(row.profile),
    )


class SqlStore:
    """Experiments, runs and their data in a SQL database."""

    def __init__(self, url: str, busy_timeout_s: float = 30.0) -> None:
        self.url = url
        self._engines = create_engines(url, busy_timeout_s)
        self.where = self._engines.where
        database = make_url(url).database if self._engines.dialect == "sqlite" else None
        ensure_schema(self._engines, database)
        self._writer = Writer(self._engines)
        self.registry = RegistryStore(self._engines)
        self.features = FeatureRegistryStore(self._engines)
        self.monitoring = MonitorStore(self._engines)
        self.profiles = ProfileStore(self._engines)
        self.pipelines = PipelineStore(self._engines)
        self.users = UserStore(self._engines)
        self.webhooks = WebhookStore(self._engines)

    @property
    def dialect(self) -> str:
        return self._engines.dialect

    def close(self) -> None:
        self._writer.close()
        self._engines.write.dispose()
        self._engines.read.dispose()

    # -- experiments -------------------------------------------------------------------

    def create_experiment(self, name: str, tags_: dict[str, str] | None = None) -> str:
        now = now_ms()
        try:
            with translated(self.where), self._engines.write.begin() as conn:
                claimed = claim(conn, self.dialect)
                if not claimed.fresh and claimed.result is not None:
                    return claimed.result  # a retry of a create that succeeded
                result = conn.execute(
                    insert(experiments).values(
                        name=name,
                        lifecycle_stage=LifecycleStage.ACTIVE.value,
                        creation_time=now,
                        last_update_time=now,
                    )
                )
                (experiment_id,) = result.inserted_primary_key or (None,)
                if tags_:
                    conn.execute(
                        insert(experiment_tags),
                        [
                            {"experiment_id": experiment_id, "key": k, "value": v}
                            for k, v in tags_.items()
                        ],
                    )
                settle(conn, str(experiment_id))
        except sa_exc.IntegrityError as error:
            raise ConflictError(
                f"experiment {name!r} already exists; use set_experiment({name!r}) to reuse it"
            ) from error
        return str(experiment_id)

    def _experiment_rows(self, conn: Connection, where: Any) -> list[Experiment]:
        rows = conn.execute(
            select(experiments).where(where).order_by(experiments.c.experiment_id)
        ).all()
        ids = [r.experiment_id for r in rows]
        tag_map: dict[int, dict[str, str]] = {i: {} for i in ids}
        if ids:
            for t in conn.execute(
                select(experiment_tags).where(experiment_tags.c.experiment_id.in_(ids))
            ):
                tag_map[t.experiment_id][t.key] = t.value
        return [
            Experiment(
                experiment_id=str(r.experiment_id),
                name=r.name,
                lifecycle_stage=LifecycleStage(r.lifecycle_stage),
                creation_time=r.creation_time,
                last_update_time=r.last_update_time,
                tags=tag_map[r.experiment_id],
            )
            for r in rows
        ]

    def get_experiment(self, experiment_id: str) -> Experiment:
        key = _experiment_key(experiment_id)
        with translated(self.where), self._engines.read.connect() as conn:
            found = self._experiment_rows(conn, experiments.c.experiment_id == key)
        if not found:
            raise NotFoundError(f"experiment {experiment_id!r} does not exist")
        return found[0]

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        with translated(self.where), self._engines.read.connect() as conn:
            found = self._experiment_rows(conn, experiments.c.name == name)
        return found[0] if found else None

    def search_experiments(
        self, view_type: ViewType = ViewType.ACTIVE_ONLY, name_like: str | None = None
    ) -> list[Experiment]:
        where: Any = experiments.c.lifecycle_stage.in_(_stages(view_type))
        if name_like:
            where = where & func.lower(experiments.c.name).like(func.lower(name_like))
        with translated(self.where), self._engines.read.connect() as conn:
            return self._experiment_rows(conn, where)

    def _update_experiment(self, experiment_id: str, **values: Any) -> None:
        key = _experiment_key(experiment_id)
        try:
            with translated(self.where), self._engines.write.begin() as conn:
                result = conn.execute(
                    update(experiments)
                    .where(experiments.c.experiment_id == key)
                    .values(last_update_time=now_ms(), **values)
                )
        except sa_exc.IntegrityError as error:
            raise ConflictError(
                f"cannot rename experiment {experiment_id!r} to {values.get('name')!r}: "
                "that name is taken"
            ) from error
        if result.rowcount == 0:
            raise NotFoundError(f"experiment {experiment_id!r} does not exist")

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        self._update_experiment(experiment_id, name=new_name)

    def delete_experiment(self, experiment_id: str) -> None:
        self._update_experiment(experiment_id, lifecycle_stage=LifecycleStage.DELETED.value)

    def restore_experiment(self, experiment_id: str) -> None:
        self._update_experiment(experiment_id, lifecycle_stage=LifecycleStage.ACTIVE.value)

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        self.get_experiment(experiment_id)
        with translated(self.where), self._engines.write.begin() as conn:
            k = _experiment_key(experiment_id)
            conn.execute(
                delete(experiment_tags).where(
                    experiment_tags.c.experiment_id == k, experiment_tags.c.key == key
                )
            )
            conn.execute(insert(experiment_tags).values(experiment_id=k, key=key, value=value))

    # -- runs --------------------------------------------------------------------------

    def create_run(
        self,
        *,
        run_id: str,
        experiment_id: str,
        run_name: str,
        start_time: int,
        user: str,
        parent_run_id: str | None,
        tags_: dict[str, str],
        context: dict[str, Any],
    ) -> Run:
        key = _experiment_key(experiment_id)
        with translated(self.where), self._engines.write.begin() as conn:
            if not claim(conn, self.dialect).fresh:
                return self.get_run(run_id)  # a retry of a create that succeeded
            stage = conn.execute(
                select(experiments.c.lifecycle_stage).where(experiments.c.experiment_id == key)
            ).scalar()
            if stage is None:
                raise NotFoundError(f"experiment {experiment_id!r} does not exist")
            if stage != LifecycleStage.ACTIVE.value:
                raise InvalidStateError(
                    f"experiment {experiment_id!r} is deleted; restore it to add runs"
                )
            if (
                parent_run_id is not None
                and conn.execute(
                    select(runs.c.run_id).where(runs.c.run_id == parent_run_id)
                ).first()
                is None
            ):
                raise NotFoundError(f"parent run {parent_run_id!r} does not exist")
            conn.execute(
                insert(runs).values(
                    run_id=run_id,
                    experiment_id=key,
                    run_name=run_name,
                    status=RunStatus.RUNNING.value,
                    start_time=start_time,
                    end_time=None,
                    lifecycle_stage=LifecycleStage.ACTIVE.value,
                    parent_run_id=parent_run_id,
                    user_name=user,
                    context=orjson.dumps(context).decode(),
                )
            )
            if tags_:
                conn.execute(
                    insert(tags),
                    [{"run_id": run_id, "key": k, "value": v} for k, v in tags_.items()],
                )
        return self.get_run(run_id)

    def _load_runs(self, conn: Connection, run_ids: Sequence[str]) -> dict[str, Run]:
        rows: dict[str, Any] = {}
        data: dict[str, RunData] = {}
        inputs: dict[str, list[DatasetInput]] = {}
        for chunk in _chunks(run_ids):
            for r in conn.execute(select(runs).where(runs.c.run_id.in_(chunk))):
                rows[r.run_id] = r
                data[r.run_id] = RunData()
                inputs[r.run_id] = []
            for m in conn.execute(
                select(latest_metrics.c.run_id, latest_metrics.c.key, latest_metrics.c.value).where(
                    latest_metrics.c.run_id.in_(chunk)
                )
            ):
                data[m.run_id].metrics[m.key] = metric_value_from_storage(m.value)
            for p in conn.execute(select(params).where(params.c.run_id.in_(chunk))):
                data[p.run_id].params[p.key] = p.value
            for t in conn.execute(select(tags).where(tags.c.run_id.in_(chunk))):
                data[t.run_id].tags[t.key] = t.value
            joined = run_inputs.join(
                dataset_versions,
                (dataset_versions.c.name == run_inputs.c.dataset_name)
                & (dataset_versions.c.digest == run_inputs.c.dataset_digest),
            )
            for d in conn.execute(
                select(run_inputs.c.run_id, run_inputs.c.context, dataset_versions)
                .select_from(joined)
                .where(run_inputs.c.run_id.in_(chunk))
            ):
                inputs[d.run_id].append(
                    DatasetInput(
                        name=d.name,
                        digest=d.digest,
                        context=d.context,
                        source=d.source,
                        num_rows=d.num_rows,
                        schema=orjson.loads(d.schema),
                    )
                )
        return {
            run_id: Run(
                info=RunInfo(
                    run_id=r.run_id,
                    experiment_id=str(r.experiment_id),
                    run_name=r.run_name,
                    status=RunStatus(r.status),
                    start_time=r.start_time,
                    end_time=r.end_time,
                    lifecycle_stage=LifecycleStage(r.lifecycle_stage),
                    parent_run_id=r.parent_run_id,
                    user=r.user_name,
                ),
                data=data[run_id],
                inputs=inputs[run_id],
                context=orjson.loads(r.context),
            )
            for run_id, r in rows.items()
        }

    def get_run(self, run_id: str) -> Run:
        with translated(self.where), self._engines.read.connect() as conn:
            found = self._load_runs(conn, [run_id])
        if run_id not in found:
            raise NotFoundError(f"run {run_id!r} does not exist")
        return found[run_id]

    def resolve_run_id(self, ref: str, shown: int = 5) -> str:
        """The run whose id is ``ref`` or starts with it (at least 4 characters; listings print
        8). No match is a NotFoundError; more than one a ValidationError naming the candidates."""
        text = ref.strip().lower()
        if not text or any(c not in "0123456789abcdef" for c in text):
            raise NotFoundError(f"run {ref[:64]!r} does not exist (a run id is hexadecimal: 0-9 and a-f)")
        if len(text) < 4:
            raise ValidationError(f"run id {ref!r} is too short to look up; give at least 4 of its characters")
        query = select(runs.c.run_id).where(runs.c.run_id.startswith(text, autoescape=True)).order_by(runs.c.run_id).limit(shown + 1)
        with translated(self.where), self._engines.read.connect() as conn:
            found = [row[0] for row in conn.execute(query)]
        if not found:
            raise NotFoundError(f"run {ref!r} does not exist (no run id starts with it)")
        if text in found or len(found) == 1:
            return text if text in found else str(found[0])
        listed = ", ".join(found[:shown]) + (", ..." if len(found) > shown else "")
        raise ValidationError(f"run id {ref!r} is ambiguous: runs {listed} all start with it; give more of the id")

    def set_run_status(self, run_id: str, status: RunStatus, end_time: int | None) -> None:
        with translated(self.where), self._engines.write.begin() as conn:
            result = conn.execute(
                update(runs)
                .where(runs.c.run_id == run_id)
                .values(status=status.value, end_time=end_time)
            )
        if result.rowcount == 0:
            raise NotFoundError(f"run {run_id!r} does not exist")

    def rename_run(self, run_id: str, run_name: str) -> None:
        with translated(self.where), self._engines.write.begin() as conn:
            result = conn.execute(
                update(runs).where(runs.c.run_id == run_id).values(run_name=run_name)
            )
        if result.rowcount == 0:
            raise NotFoundError(f"run {run_id!r} does not exist")

    def set_run_lifecycle(self, run_id: str, stage: LifecycleStage) -> None:
        with translated(self.where), self._engines.write.begin() as conn:
            result = conn.execute(
                update(runs).where(runs.c.run_id == run_id).values(lifecycle_stage=stage.value)
            )
        if result.rowcount == 0:
            raise NotFoundError(f"run {run_id!r} does not exist")

    def delete_tag(self, run_id: str, key: str) -> None:
        with translated(self.where), self._engines.write.begin() as conn:
            result = conn.execute(delete(tags).where(tags.c.run_id == run_id, tags.c.key == key))
        if result.rowcount == 0:
            raise NotFoundError(f"run {run_id!r} has no tag {key!r}")

    # -- data ------------------------------------------------------------------------

    def log_metric(self, run_id: str, metric: Metric) -> None:
        self._writer.log_metric(run_id, metric)

    def log_batch(
        self,
        run_id: str,
        metrics_: Sequence[Metric] = (),
        params_: Sequence[Param] = (),
        tags_: Sequence[RunTag] = (),
    ) -> None:
        self._writer.log_batch(run_id, metrics_, params_, tags_)

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        with translated(self.where), self._engines.read.connect() as conn:
            if conn.execute(select(runs.c.run_id).where(runs.c.run_id == run_id)).first() is None:
                raise NotFoundError(f"run {run_id!r} does not exist")
            rows = conn.execute(
                select(metrics.c.step, metrics.c.timestamp, metrics.c.value)
                .where(metrics.c.run_id == run_id, metrics.c.key == key)
                .order_by(metrics.c.step, metrics.c.timestamp)
            ).all()
        return [Metric(key, metric_value_from_storage(v), ts, step) for step, ts, v in rows]

    def metric_keys(self, run_id: str) -> list[str]:
        with translated(self.where), self._engines.read.connect() as conn:
            return list(
                conn.execute(
                    select(latest_metrics.c.key)
                    .where(latest_metrics.c.run_id == run_id)
                    .order_by(latest_metrics.c.key)
                ).scalars()
            )

    def _require_writable(self, conn: Connection, run_id: str) -> None:
        row = conn.execute(
            select(runs.c.status, runs.c.lifecycle_stage).where(runs.c.run_id == run_id)
        ).first()
        if row is None:
            raise NotFoundError(f"run {run_id!r} does not exist")
        if (
            row.lifecycle_stage != LifecycleStage.ACTIVE.value
            or RunStatus(row.status).is_terminated
        ):
            raise InvalidStateError(
                f"run {run_id!r} is {row.status}; it no longer accepts data. Resume it with "
                f"start_run(run_id={run_id!r}) to log more"
            )

    def record_artifacts(self, run_id: str, files: Sequence[tuple[str, str, int]]) -> None:
        """Point ``path``s of the run at blobs (path, sha256, size); the last write wins."""
        with translated(self.where), self._engines.write.begin() as conn:
            self._require_writable(conn, run_id)
            paths = [path for path, _, _ in files]
            for chunk in _chunks(paths):
                conn.execute(
                    delete(artifacts).where(
                        artifacts.c.run_id == run_id, artifacts.c.path.in_(chunk)
                    )
                )
            if files:
                conn.execute(
                    insert(artifacts),
                    [{"run_id": run_id, "path": p, "digest": d, "size": s} for p, d, s in files],
                )

    def artifact_rows(self, run_id: str, prefix: str = "") -> list[tuple[str, str, int]]:
        """Every artifact file of the run under ``prefix``: (path, sha256, size)."""
        query = select(artifacts.c.path, artifacts.c.digest, artifacts.c.size).where(
            artifacts.c.run_id == run_id
        )
        if prefix:
            query = query.where(
                (artifacts.c.path == prefix)
                | artifacts.c.path.startswith(prefix + "/", autoescape=True)
            )
        with translated(self.where), self._engines.read.connect() as conn:
            if conn.execute(select(runs.c.run_id).where(runs.c.run_id == run_id)).first() is None:
                raise NotFoundError(f"run {run_id!r} does not exist")
            return [(r[0], r[1], r[2]) for r in conn.execute(query.order_by(artifacts.c.path))]

    def log_input(self, run_id: str, dataset: DatasetVersion, context: str) -> None:
        with translated(self.where), self._engines.write.begin() as conn:
            self._require_writable(conn, run_id)
            known = conn.execute(
                select(dataset_versions.c.digest).where(
                    dataset_versions.c.name == dataset.name,
                    dataset_versions.c.digest == dataset.digest,
                )
            ).first()
            if known is None:
                conn.execute(
                    insert(dataset_versions).values(
                        name=dataset.name,
                        digest=dataset.digest,
                        source_type=dataset.source_type,
                        source=dataset.source,
                        num_rows=dataset.num_rows,
                        schema=orjson.dumps(dataset.schema).decode(),
                        profile=orjson.dumps(
                            dataset.profile, option=orjson.OPT_SERIALIZE_NUMPY
                        ).decode(),
                        created_time=now_ms(),
                    )
                )
            exists_ = conn.execute(
                select(run_inputs.c.run_id).where(
                    run_inputs.c.run_id == run_id,
                    run_inputs.c.dataset_name == dataset.name,
                    run_inputs.c.dataset_digest == dataset.digest,
                    run_inputs.c.context == context,
                )
            ).first()
            if exists_ is None:
                conn.execute(
                    insert(run_inputs).values(
                        run_id=run_id,
                        dataset_name=dataset.name,
                        dataset_digest=dataset.digest,
                        context=context,
                    )
                )

    def list_dataset_versions(self, name: str | None = None) -> list[tuple[DatasetVersion, int]]:
        """Dataset versions (newest first) with their creation time."""
        query = select(dataset_versions).order_by(dataset_versions.c.created_time.desc())
        if name is not None:
            query = query.where(dataset_versions.c.name == name)
        with translated(self.where), self._engines.read.connect() as conn:
            rows = conn.execute(query).all()
        return [(_dataset(r), int(r.created_time)) for r in rows]

    def find_dataset_version(self, name: str, digest_prefix: str) -> DatasetVersion:
        """A version of ``name`` by its digest or a unique prefix of it (at least 4 characters)."""
        matches = [
            d for d, _ in self.list_dataset_versions(name) if d.digest.startswith(digest_prefix)
        ]
        if not matches:
            raise NotFoundError(f"dataset {name!r} has no version starting {digest_prefix!r}")
        if len(matches) > 1 or len(digest_prefix) < 4:
            raise ValidationError(
                f"version {digest_prefix!r} of dataset {name!r} is ambiguous; give more of the digest"
            )
        return matches[0]

    def get_dataset_version(self, name: str, digest: str) -> DatasetVersion:
        with translated(self.where), self._engines.read.connect() as conn:
            row = conn.execute(
                select(dataset_versions).where(
                    dataset_versions.c.name == name, dataset_versions.c.digest == digest
                )
            ).first()
        if row is None:
            raise NotFoundError(f"dataset {name!r} has no version {digest[:12]}")
        return _dataset(row)

    # -- search ----------------------------------------------------------------------

    def count_runs(
        self, experiment_ids: Sequence[str], view_type: ViewType = ViewType.ACTIVE_ONLY
    ) -> dict[str, int]:
        keys = [_experiment_key(e) for e in experiment_ids]
        query = (
            select(runs.c.experiment_id, func.count())
            .where(runs.c.experiment_id.in_(keys), runs.c.lifecycle_stage.in_(_stages(view_type)))
            .group_by(runs.c.experiment_id)
        )
        with translated(self.where), self._engines.read.connect() as conn:
            counts = {str(e): int(n) for e, n in conn.execute(query)}
        return {str(k): counts.get(str(k), 0) for k in keys}

    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList:
        check_max_results(max_results)
        where = compile_filter(parse_filter(filter_string))
        order = parse_order_by(order_by)
        offset = decode_page_token(page_token)
        keys = [_experiment_key(e) for e in experiment_ids]
        query = select(runs.c.run_id).where(
            runs.c.experiment_id.in_(keys), runs.c.lifecycle_stage.in_(_stages(view_type))
        )
        if where is not None:
            query = query.where(where)
        query = apply_order(query, order).limit(max_results + 1).offset(offset)
        with translated(self.where), self._engines.read.connect() as conn:
            ids = list(conn.execute(query).scalars())
            more = len(ids) > max_results
            ids = ids[:max_results]
            loaded = self._load_runs(conn, ids)
        token = encode_page_token(offset + max_results) if more else None
        return PagedList([loaded[i] for i in ids if i in loaded], token)

    # -- pages for people (the web UI) -----------------------------------------------

    def page_runs(
        self,
        experiment_ids: Sequence[str],
        *,
        filter_string: str | None = None,
        order_by: str | None = None,
        cursor: str | None = None,
        limit: int = 100,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
    ) -> RunsPage:
        """A page of runs in one order, by keyset: ``cursor`` is the previous page's
        ``next_cursor``; every page costs the same however deep it is."""
        keys = [_experiment_key(e) for e in experiment_ids]
        with translated(self.where), self._engines.read.connect() as conn:
            ids, next_cursor, total = page_runs(
                conn, keys, _stages(view_type), filter_string=filter_string,
                order_by=order_by, cursor=cursor, limit=limit,
            )
            loaded = self._load_runs(conn, ids)
        return RunsPage([loaded[i] for i in ids if i in loaded], next_cursor, total)

    def run_keys(self, experiment_ids: Sequence[str], sample: int = 500) -> RunKeys:
        """Param, metric and tag names on the experiments' newest ``sample`` runs."""
        keys = [_experiment_key(e) for e in experiment_ids]
        with translated(self.where), self._engines.read.connect() as conn:
            return run_keys(conn, keys, sample)

    def metric_series(self, run_id: str, key: str, max_points: int | None = None) -> MetricSeries:
        """A metric's history as columns, without an object per point: what charts read.
        Longer than ``max_points``, it comes as the min and max of ``max_points // 2`` step
        buckets (computed in SQL): at chart width, the same picture at a fraction of the bytes."""
        with translated(self.where), self._engines.read.connect() as conn:
            where = (metrics.c.run_id == run_id, metrics.c.key == key)
            count, low, high = conn.execute(
                select(func.count(), func.min(metrics.c.step), func.max(metrics.c.step)).where(*where)
            ).one()
            if not count:
                return MetricSeries([], [], [], 0, False)
            if max_points is None or count <= max_points or high == low:
                rows = conn.execute(
                    select(metrics.c.step, metrics.c.timestamp, metrics.c.value)
                    .where(*where)
                    .order_by(metrics.c.step, metrics.c.timestamp)
                ).all()
                return MetricSeries(
                    [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], int(count), False
                )
            buckets = max(1, max_points // 2)
            bucket = ((metrics.c.step - low) * buckets // (high - low + 1)).label("b")
            buckets_rows = conn.execute(
                select(bucket, func.min(metrics.c.step), func.max(metrics.c.step), func.min(metrics.c.timestamp),
                       func.max(metrics.c.timestamp), func.min(metrics.c.value), func.max(metrics.c.value))
                .where(*where)
                .group_by(bucket)
                .order_by(bucket)
            ).all()
        steps: list[int] = []
        stamps: list[int] = []
        values: list[float | None] = []
        for _, s0, s1, t0, t1, v0, v1 in buckets_rows:
            steps += [s0, s1] if s1 != s0 else [s0]
            stamps += [t0, t1] if s1 != s0 else [t0]
            values += [v0, v1] if s1 != s0 else [v0]
        return MetricSeries(steps, stamps, values, int(count), True)
