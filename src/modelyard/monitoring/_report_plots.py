"""The monitoring report's plots, as base64 PNGs (matplotlib, imported only here and lazily).

Windows are placed evenly, one slot each, and named on the x axis: a report over six windows
of seconds and one of a day stays readable, since no window's length squeezes the others.
"""

from __future__ import annotations

import base64
import io
import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelyard.monitoring._report import Window

_VERSION_COLORS = ("#8899aa", "#1f6feb", "#7a5af8", "#067647", "#f79009", "#b42318")
_SWAP = "#7a5af8"
_ALERT = "#f79009"


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def _png(fig: Any) -> str:
    plt = _pyplot()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def _line(ax: Any, x: list[int], values: list[float | None], **style: Any) -> bool:
    if not any(v is not None for v in values):
        return False
    ax.plot(x, [float("nan") if v is None else v for v in values], marker="o", **style)
    return True


def over_time_png(windows: Sequence[Window], ticks: Sequence[str], swaps: Sequence[tuple[int, str]]) -> str | None:
    """Drift share (drifted columns named), performance and rows per model version, per window;
    swaps between versions and alerts marked."""
    plt = _pyplot()
    if plt is None or not windows:
        return None
    x = list(range(len(windows)))
    fig, axes = plt.subplots(3, 1, figsize=(10, 7.5), sharex=True)
    drift = [w.figures.get("drift_share") for w in windows]
    _line(axes[0], x, drift, color="#b42318")
    for i, window in enumerate(windows):  # neighbours' names at alternating heights
        if window.drifted and drift[i] is not None:
            axes[0].annotate(", ".join(window.drifted), (i, drift[i]), textcoords="offset points", xytext=(0, 8 + 11 * (i % 2)), ha="center", fontsize=8, color="#b42318")
    axes[0].set_ylabel("drift share")
    axes[0].set_ylim(-0.05, 1.15)
    drawn = [
        name
        for name, color in (("auc", "#1f6feb"), ("accuracy", "#067647"), ("rmse", "#1f6feb"), ("mae", "#067647"))
        if _line(axes[1], x, [w.figures.get(name) for w in windows], color=color, label=name)
    ]
    axes[1].set_ylabel("performance")
    if drawn:
        axes[1].legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    versions = sorted({v for w in windows for v in w.versions}, key=lambda v: (not v.isdigit(), int(v) if v.isdigit() else 0, v))
    if versions:
        bottom = [0.0] * len(windows)
        for version, color in zip(versions, itertools.cycle(_VERSION_COLORS), strict=False):
            heights = [w.versions.get(version, 0.0) for w in windows]
            axes[2].bar(x, heights, bottom=bottom, width=0.6, color=color, label=f"v{version}")
            bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
        axes[2].legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, title="served by", title_fontsize=8)
    else:
        axes[2].bar(x, [w.figures.get("rows", 0.0) for w in windows], width=0.6, color=_VERSION_COLORS[0])
    axes[2].set_ylabel("rows scored")
    alerted = {i for i, w in enumerate(windows) if w.alerts}
    for i in sorted(alerted):
        for ax in axes:
            ax.axvline(i, color=_ALERT, linestyle="--", linewidth=1)
        axes[0].annotate("alert", (i, 1.1), ha="right", va="top", fontsize=8, color=_ALERT, xytext=(-4, 0), textcoords="offset points")
    for i, text in swaps:
        for ax in axes:
            ax.axvline(i, color=_SWAP, linewidth=1.5)
        axes[0].annotate(f"swap {text}", (i, 1.1), ha="left", va="top", fontsize=8, color=_SWAP, xytext=(4, 0), textcoords="offset points")
    long = max(len(line) for t in ticks for line in t.splitlines()) > 10
    axes[2].set_xticks(x, list(ticks), rotation=30 if long else 0, ha="right" if long else "center")
    axes[2].set_xlim(-0.6, len(windows) - 0.4)
    axes[0].set_title("per window: drift share, performance and traffic (dashed: alerts fired; solid: model swaps)", fontsize=10)
    return _png(fig)


def distribution_png(column: dict[str, Any]) -> str | None:
    """Reference against current shares of one column (density for numbers)."""
    plt = _pyplot()
    ref, cur = column.get("reference_share") or [], column.get("current_share") or []
    if plt is None or not ref:
        return None
    fig, ax = plt.subplots(figsize=(9, 2.8))
    if column["kind"] == "numeric":
        edges = column["bins"]
        centers = [(a + b) / 2 for a, b in itertools.pairwise(edges)]
        widths = [max(b - a, 1e-12) for a, b in itertools.pairwise(edges)]
        ax.bar(centers, [r / w for r, w in zip(ref, widths, strict=False)], width=widths, alpha=0.45, label="reference", color="#1f6feb")
        ax.bar(centers, [c / w for c, w in zip(cur, widths, strict=False)], width=widths, alpha=0.45, label="current", color="#b42318")
        ax.set_ylabel("density")
    else:
        labels = column["bins"]
        idx = list(range(len(labels)))
        ax.bar([i - 0.2 for i in idx], ref, width=0.4, label="reference", color="#1f6feb")
        ax.bar([i + 0.2 for i in idx], cur, width=0.4, label="current", color="#b42318")
        ax.set_xticks(idx, labels, rotation=30, ha="right")
        ax.set_ylabel("share")
    # a fixed place: "best" is searched for, slowly, with a warning when it takes over a second
    ax.legend(loc="upper right", fontsize=8)
    return _png(fig)
