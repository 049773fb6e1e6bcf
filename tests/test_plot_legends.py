"""Every plot places its legend at a fixed spot.

A legend without ``loc`` is placed by searching for the "best" spot, and matplotlib warns
("Creating legend with loc="best" can be slow") whenever that search took over a second of wall
clock — which a loaded machine turns into a random warning, an error under this suite's
``filterwarnings = error`` (a CI run failed on it). Here matplotlib's clock jumps 10 s on every
reading, so any legend left to the search warns every time.
"""

from __future__ import annotations

import itertools
import types
from pathlib import Path

import numpy as np
import pytest

import modelyard as my
from modelyard.monitoring._report_plots import distribution_png
from modelyard.registry._evaluate import _plots

pytest.importorskip("matplotlib")


@pytest.fixture(autouse=True)
def slow_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    import matplotlib.legend

    ticks = itertools.count(step=10.0)
    monkeypatch.setattr(matplotlib.legend, "time", types.SimpleNamespace(perf_counter=lambda: next(ticks)))


def test_the_clock_makes_a_searched_legend_warn() -> None:
    """The premise: with this clock, a legend left to the search does warn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1], label="line")
    ax.legend()
    with pytest.warns(UserWarning, match="slow"):
        fig.canvas.draw()
    plt.close(fig)


@pytest.mark.parametrize("kind", ["numeric", "categorical"])
def test_monitoring_distribution_plot(kind: str) -> None:
    column = (
        {"kind": "numeric", "bins": [0.0, 1.0, 2.0, 3.0], "reference_share": [0.2, 0.5, 0.3], "current_share": [0.1, 0.4, 0.5]}
        if kind == "numeric"
        else {"kind": "categorical", "bins": ["a", "b"], "reference_share": [0.6, 0.4], "current_share": [0.3, 0.7]}
    )
    png = distribution_png(column)
    assert png is not None and len(png) > 1_000


def test_evaluation_plots(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    positive = np.clip(y * 0.6 + rng.random(400) * 0.4, 0, 1)
    proba = np.column_stack([1 - positive, positive])
    written = _plots("classifier", y, proba, (positive > 0.5).astype(int), tmp_path)
    assert {"roc_curve", "precision_recall_curve", "calibration_curve"} <= set(written)


def test_metric_history_plot(fluent: str, tmp_path: Path) -> None:
    ids = []
    for lr in (0.1, 0.2):
        with my.start_run(run_name=f"lr-{lr}") as run:
            for step in range(5):
                my.log_metric("loss", 1.0 / (step + 1) + lr, step=step)
        ids.append(run.info.run_id)
    png = my.plot_metric_history(ids, tmp_path / "loss.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
