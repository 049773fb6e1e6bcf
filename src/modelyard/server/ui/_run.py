"""One run: params, tags, context, metric charts, the artifacts browser with previews, the
input datasets with their profiles, and where it led (pipeline run, model versions)."""

from __future__ import annotations

import csv
import io
import json
import posixpath
import urllib.parse
from typing import Any

import yaml
from starlette.responses import Response

from modelyard.core.errors import NotFoundError, ValidationError
from modelyard.core.search_filter import quote
from modelyard.server.ui._web import PREFIX, View

PREVIEW_BYTES = 256 * 1024
RAW_BYTES = 20 * 1024 * 1024
CSV_ROWS = 20
_IMAGES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
           ".webp": "image/webp", ".svg": "image/svg+xml"}
_TEXT = {".txt", ".log", ".md", ".py", ".cfg", ".ini", ".toml", ".sql", ".sh", ""}
_KINDS = {".json": "json", ".yaml": "yaml", ".yml": "yaml", ".csv": "csv", ".tsv": "csv",
          ".html": "html", ".htm": "html", **{ext: "image" for ext in _IMAGES}, **{ext: "text" for ext in _TEXT}}


def kind_of(path: str) -> str:
    ext = posixpath.splitext(path.lower())[1]
    if posixpath.basename(path) in ("MLmodel", "modelyard.yaml", "requirements.txt"):
        return "yaml" if path.endswith(".yaml") or path.endswith("MLmodel") else "text"
    return _KINDS.get(ext, "binary")


def _profile_columns(profile: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for name, stats in (profile.get("columns") or {}).items():
        q = stats.get("quantiles") or {}
        rows.append({
            "name": name, "kind": stats.get("kind", ""), "null_rate": stats.get("null_rate"),
            "mean": stats.get("mean"), "std": stats.get("std"), "min": q.get("0.0", stats.get("min")),
            "p50": q.get("0.5"), "max": q.get("1.0", stats.get("max")), "distinct": stats.get("distinct"),
        })
    return rows


def run_page(view: View) -> dict[str, Any]:
    run_id = view.path["run_id"]
    store = view.state.store
    run = store.get_run(run_id)
    view.require("read", "experiment", run.info.experiment_id)
    experiment = store.get_experiment(run.info.experiment_id)
    info = run.info
    artifacts = [{"path": p, "digest": d, "size": s, "kind": kind_of(p)} for p, d, s in store.artifact_rows(run_id)]
    datasets = []
    for item in run.inputs:
        try:
            version = store.get_dataset_version(item.name, item.digest)
            profile = _profile_columns(version.profile)
        except NotFoundError:
            profile = []
        datasets.append({"name": item.name, "digest": item.digest, "context": item.context,
                         "source": item.source, "num_rows": item.num_rows, "schema": item.schema,
                         "profile": profile})
    versions = [
        {"name": v.name, "version": v.version, "aliases": v.aliases, "state": v.state.value}
        for v in store.registry.search_versions(f"run_id = {quote(run_id)}")
        if view.can("read", "model", v.name)
    ]
    pipeline_run = run.data.tags.get("modelyard.pipeline_run")
    pipeline = None
    if pipeline_run:
        row = store.pipelines.get_run(pipeline_run)
        if row is not None:
            pipeline = {"run_id": row.run_id, "pipeline": row.pipeline, "status": row.status,
                        "trigger": row.trigger, "step": run.data.tags.get("modelyard.pipeline_step")}
    children = store.page_runs([info.experiment_id], filter_string=f"attributes.parent_run_id = '{run_id}'", limit=100).runs
    context = dict(run.context)
    packages = context.pop("packages", None)
    selected = view.param("artifact")
    preview = artifact_preview(view, run_id, selected) if selected else None
    return {
        "run": {
            "run_id": info.run_id, "run_name": info.run_name, "status": info.status.value,
            "user": info.user, "start_time": info.start_time, "end_time": info.end_time,
            "duration_ms": info.duration_ms, "lifecycle_stage": info.lifecycle_stage.value,
            "parent_run_id": info.parent_run_id, "experiment_id": info.experiment_id,
        },
        "experiment": {"experiment_id": experiment.experiment_id, "name": experiment.name},
        "params": dict(sorted(run.data.params.items())),
        "metrics": dict(sorted(run.data.metrics.items())),
        "tags": {k: v for k, v in sorted(run.data.tags.items()) if not k.startswith("modelyard.")},
        "system_tags": {k: v for k, v in sorted(run.data.tags.items()) if k.startswith("modelyard.")},
        "context": context,
        "packages": len(packages) if isinstance(packages, dict) else 0,
        "artifacts": artifacts,
        "preview": preview,
        "datasets": datasets,
        "model_versions": versions,
        "pipeline_run": pipeline,
        "children": [{"run_id": c.info.run_id, "run_name": c.info.run_name, "status": c.info.status.value} for c in children],
    }


def _find(view: View, run_id: str, path: str) -> tuple[str, int]:
    if not path or len(path) > 1024:
        raise ValidationError("name the artifact with ?path= (up to 1024 characters)")
    for p, digest, size in view.state.store.artifact_rows(run_id, path):
        if p == path:
            return digest, size
    raise NotFoundError("the run has no artifact at that path")


def artifact_preview(view: View, run_id: str, path: str) -> dict[str, Any]:
    """What the page shows of one artifact: text, pretty JSON/YAML, a CSV head, or a link
    the page embeds (images; HTML reports in a sandboxed iframe)."""
    digest, size = _find(view, run_id, path)
    kind = kind_of(path)
    out: dict[str, Any] = {"path": path, "size": size, "kind": kind, "raw_url": f"{PREFIX}/runs/{run_id}/raw?path={_q(path)}",
                           "text": None, "note": None, "truncated": False, "header": [], "rows": []}
    if kind in ("image", "html", "binary"):
        return out
    if size > RAW_BYTES:
        out["text"] = None
        out["note"] = "too large to preview"
        return out
    data = view.state.blobs.get_bytes(digest)[:PREVIEW_BYTES]
    text = data.decode("utf-8", errors="replace")
    out["truncated"] = size > PREVIEW_BYTES
    if kind == "json" and not out["truncated"]:
        try:
            text = json.dumps(json.loads(text), indent=2)[:PREVIEW_BYTES]
        except ValueError:
            out["note"] = "not valid JSON; shown as text"
    elif kind == "yaml" and not out["truncated"]:
        try:
            yaml.safe_load(text)
        except yaml.YAMLError:
            out["note"] = "not valid YAML; shown as text"
    elif kind == "csv":
        dialect = "excel-tab" if path.lower().endswith(".tsv") else "excel"
        rows = list(csv.reader(io.StringIO(text), dialect=dialect))[: CSV_ROWS + 1]
        out["header"], out["rows"] = (rows[0], rows[1:]) if rows else ([], [])
        return out
    out["text"] = text
    return out


def _q(path: str) -> str:
    return urllib.parse.quote(path, safe="")


def artifact_raw(view: View) -> Response:
    """The artifact's bytes for an <img> or a sandboxed <iframe>: the answer itself is also
    sandboxed (CSP ``sandbox``: no scripts, an opaque origin), never sniffed, and capped."""
    run_id = view.path["run_id"]
    run = view.state.store.get_run(run_id)
    view.require("read", "experiment", run.info.experiment_id)
    path = view.param("path")
    digest, size = _find(view, run_id, path)
    if size > RAW_BYTES:
        raise ValidationError(f"the artifact is larger than {RAW_BYTES >> 20} MiB; download it with `modelyard runs download`")
    kind = kind_of(path)
    media = {"image": _IMAGES.get(posixpath.splitext(path.lower())[1], "application/octet-stream"),
             "html": "text/html; charset=utf-8", "json": "application/json", "csv": "text/plain; charset=utf-8",
             "yaml": "text/plain; charset=utf-8", "text": "text/plain; charset=utf-8"}.get(kind, "application/octet-stream")
    headers = {
        "content-security-policy": "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'",
        "x-content-type-options": "nosniff",
        "cache-control": "private, max-age=3600",
    }
    if kind == "binary":
        headers["content-disposition"] = f"attachment; filename=\"{posixpath.basename(path)[:100].replace(chr(34), '')}\""
    return Response(view.state.blobs.get_bytes(digest), media_type=media, headers=headers)
