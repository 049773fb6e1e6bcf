"""Compare runs: overlaid metric histories (drawn from the series twin), a diff of params and
metrics that shows only what differs, a scatter of any two columns and parallel coordinates
over the numeric ones (for sweeps)."""

from __future__ import annotations

from typing import Any

from modelyard.core.errors import ValidationError
from modelyard.server.ui._web import View

MAX_RUNS = 200


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value))
    except ValueError:
        return None


def compare(view: View) -> dict[str, Any]:
    ids = list(dict.fromkeys(view.params("run")))[:MAX_RUNS]
    if not ids:
        raise ValidationError("choose runs to compare: ?run=<id>&run=<id> (tick them in a runs table)")
    store = view.state.store
    runs = []
    for run_id in ids:
        run = store.get_run(run_id)
        view.require("read", "experiment", run.info.experiment_id)
        runs.append(run)
    columns: dict[str, list[Any]] = {}
    for entity in ("params", "metrics"):
        keys = sorted({k for r in runs for k in getattr(r.data, entity)})
        for key in keys:
            columns[f"{entity}.{key}"] = [getattr(r.data, entity).get(key) for r in runs]
    differing = {k: v for k, v in columns.items() if len({repr(x) for x in v}) > 1}
    same = {k: v[0] for k, v in columns.items() if k not in differing}
    numeric = {k: [_number(x) for x in v] for k, v in columns.items()}
    numeric = {k: v for k, v in numeric.items() if sum(x is not None for x in v) >= 2 and len({x for x in v if x is not None}) > 1}
    metric_keys = sorted({k for r in runs for k in r.data.metrics})
    chosen = [k for k in view.params("key") if k in metric_keys] or metric_keys[:1]
    return {
        "runs": [{"run_id": r.info.run_id, "run_name": r.info.run_name, "status": r.info.status.value,
                  "experiment_id": r.info.experiment_id} for r in runs],
        "differing": differing,
        "same": same,
        "numeric": numeric,
        "metric_keys": metric_keys,
        "chart_keys": chosen,
        "x": view.param("x") or (next(iter(numeric), "")),
        "y": view.param("y") or (list(numeric)[1] if len(numeric) > 1 else ""),
    }
