"""The lineage of a model version: its training data and features, the run that trained it,
the pipeline run that ran that, its aliases, and the endpoints that served it."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any

import duckdb

from modelyard.core.errors import NotFoundError
from modelyard.data._logfiles import LogFile, date_folders, stable_files
from modelyard.data._predlog import default_log_root
from modelyard.registry import Client


def _served(name: str, version: int, root: Path) -> list[dict[str, Any]]:
    folder = root / "requests"
    if not folder.is_dir():
        return []
    folders = [d for endpoint in sorted(folder.iterdir()) if endpoint.is_dir() for d in date_folders(endpoint)]

    def read(files: list[LogFile]) -> list[Any]:
        if not files:
            return []
        paths = "[" + ", ".join("'" + str(f.path).replace("'", "''") + "'" for f in files) + "]"
        try:
            with duckdb.connect() as con:
                con.execute("SET TimeZone = 'UTC'")
                return con.execute(
                    f"SELECT endpoint, count(*), min(timestamp), max(timestamp) FROM read_parquet({paths}, hive_partitioning = true, union_by_name = true) "
                    "WHERE model = ? AND version = ? AND status = 200 GROUP BY endpoint ORDER BY endpoint",
                    [name, str(version)],
                ).fetchall()
        except duckdb.IOException as error:  # a file compacted away meanwhile: read again
            raise FileNotFoundError(str(error)) from error

    rows = stable_files(folders, read)  # compacted files stand for the files they replace
    return [{"endpoint": r[0], "rows": int(r[1]), "first": str(r[2])[:19], "last": str(r[3])[:19]} for r in rows]


def lineage_of(model_uri: str, *, tracking_uri: str | None = None, log_root: str | Path | None = None) -> dict[str, Any]:
    client = Client(tracking_uri)
    version = client.resolve(model_uri)
    lineage = version.lineage or {}
    datasets = []
    for d in lineage.get("datasets") or []:
        entry = dict(d)
        try:
            found = client.store.get_dataset_version(d["name"], d["digest"])
            entry["rows"] = found.num_rows
            entry["source"] = found.source
        except NotFoundError:
            entry["rows"] = None
        datasets.append(entry)
    info: dict[str, Any] = {
        "model": version.uri,
        "flavor": version.flavor,
        "registered": _dt.datetime.fromtimestamp(version.creation_time / 1000, _dt.UTC).strftime("%Y-%m-%d %H:%M"),
        "datasets": datasets,
        "feature_service": lineage.get("feature_service"),
        "git_commit": lineage.get("git_commit"),
        "aliases": sorted(version.aliases),
        "run": None,
        "pipeline_run": None,
    }
    if version.run_id:
        run = client.get_run(version.run_id)
        info["run"] = {
            "run_id": run.info.run_id,
            "name": run.info.run_name,
            "status": run.info.status.value if hasattr(run.info.status, "value") else str(run.info.status),
            "metrics": dict(run.data.metrics),
            "params": dict(run.data.params),
        }
        pipeline_run = run.data.tags.get("modelyard.pipeline_run")
        if pipeline_run:
            row = client.store.pipelines.get_run(pipeline_run)
            if row is not None:
                info["pipeline_run"] = {
                    "run_id": row.run_id,
                    "pipeline": row.pipeline,
                    "status": row.status,
                    "trigger": row.trigger,
                    "step": run.data.tags.get("modelyard.pipeline_step"),
                    "steps": [{"step": s.step, "status": s.status, "links": s.links} for s in client.store.pipelines.steps(row.run_id)],
                }
    info["endpoints"] = _served(version.name, version.version, Path(log_root) if log_root else default_log_root())
    return info
