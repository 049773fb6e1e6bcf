"""Runs side by side: DataFrames for analysis, PNG plots of metric series."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelyard.core.entities import Run
from modelyard.core.errors import MissingDependencyError, ValidationError

if TYPE_CHECKING:
    import pandas as pd

    from modelyard.tracking._client import Client


def _stamp(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=UTC)


def run_record(run: Run) -> dict[str, Any]:
    """One run flattened: attributes, then ``metrics.*``, ``params.*``, ``tags.*``."""
    info = run.info
    record: dict[str, Any] = {
        "run_id": info.run_id,
        "run_name": info.run_name,
        "experiment_id": info.experiment_id,
        "status": info.status.value,
        "start_time": _stamp(info.start_time),
        "end_time": _stamp(info.end_time),
        "duration_s": None if info.duration_ms is None else info.duration_ms / 1000,
        "parent_run_id": info.parent_run_id,
    }
    record.update({f"metrics.{k}": val for k, val in sorted(run.data.metrics.items())})
    record.update({f"params.{k}": val for k, val in sorted(run.data.params.items())})
    record.update({f"tags.{k}": val for k, val in sorted(run.data.tags.items())})
    return record


def runs_to_frame(runs: Sequence[Run]) -> pd.DataFrame:
    import pandas as pd

    columns = [
        "run_id",
        "run_name",
        "experiment_id",
        "status",
        "start_time",
        "end_time",
        "duration_s",
        "parent_run_id",
    ]
    records = [run_record(r) for r in runs]
    frame = pd.DataFrame.from_records(records) if records else pd.DataFrame(columns=columns)
    extra = sorted(c for c in frame.columns if c not in columns)
    return frame[columns + extra]


def compare_runs(
    client: Client,
    run_ids: Sequence[str],
    *,
    include_tags: bool = False,
    only_differences: bool = False,
) -> pd.DataFrame:
    """One row per run (indexed by run name), columns ``metrics.*`` and ``params.*``.

    ``only_differences=True`` keeps only the params and metrics that differ between runs.
    """
    if not run_ids:
        raise ValidationError("compare_runs needs at least one run id")
    frame = runs_to_frame([client.get_run(r) for r in run_ids])
    keep = ["run_id", "run_name", "status", "duration_s"] + [
        c
        for c in frame.columns
        if c.startswith(("metrics.", "params.")) or (include_tags and c.startswith("tags."))
    ]
    frame = frame[keep]
    if only_differences and len(frame) > 1:
        fixed = ["run_id", "run_name", "status", "duration_s"]
        varying = [c for c in keep[4:] if frame[c].astype(str).nunique(dropna=False) > 1]
        frame = frame[fixed + varying]
    return frame.set_index("run_name")


def plot_metric_history(
    client: Client,
    run_ids: Sequence[str],
    keys: Sequence[str] | None,
    path: str | os.PathLike[str],
) -> Path:
    """Draw each metric's series for each run (one panel per metric) into a PNG file."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise MissingDependencyError("matplotlib", "plots", "Plotting metric series") from error
    runs = [client.get_run(r) for r in run_ids]
    wanted = (
        list(keys)
        if keys
        else sorted({k for r in runs for k in client.store.metric_keys(r.info.run_id)})
    )
    if not wanted:
        raise ValidationError("the runs have no metrics to plot")
    fig, axes = plt.subplots(len(wanted), 1, figsize=(8, 3 * len(wanted)), squeeze=False)
    for axis, key in zip(axes[:, 0], wanted, strict=True):
        for run in runs:
            history = client.get_metric_history(run.info.run_id, key)
            if history:
                axis.plot(
                    [m.step for m in history],
                    [m.value for m in history],
                    marker="." if len(history) < 50 else None,
                    label=run.info.run_name,
                )
        axis.set_title(key)
        axis.set_xlabel("step")
        axis.grid(alpha=0.3)
        # beside the curves: never searched for ("best" warns when the search takes over a second)
        axis.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
