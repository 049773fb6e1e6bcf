"""``modelyard demo``: a thin shell over ``modelyard.demo``'s scenarios."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from modelyard.cli._common import TrackingUri
from modelyard.cli._output import friendly_errors
from modelyard.core.extras import require


def demo(
    tracking_uri: TrackingUri = None,
    scenario: Annotated[
        str,
        typer.Option(help="loop: the whole loop on credit scoring (default); tracking: experiments, registry and gates on a bundled data set."),
    ] = "loop",
    workdir: Annotated[Path, typer.Option(help="Folder for the loop's feature repository, online store, deployment file and report; the demo rewrites its own data there on every run.")] = Path("modelyard-demo"),
    weeks: Annotated[int, typer.Option(help="Weeks in the loop scenario (4 of history, then traffic).")] = 10,
    rows_per_week: Annotated[int, typer.Option(help="Applications per week in the loop scenario (600 keeps the loop short; more gives steadier weekly AUCs).")] = 600,
    plot: Annotated[Path, typer.Option(help="Where to write the PNG of the loss curves (tracking scenario).")] = Path(
        "modelyard-demo-loss.png"
    ),
    cards: Annotated[Path, typer.Option(help="Folder for the champion's model card (tracking scenario).")] = Path(
        "modelyard-cards"
    ),
) -> None:
    """Run the whole loop on a generated credit-scoring scenario: features, training pipeline,
    registry and gate, serving, weeks of live traffic with late labels, drift and an AUC drop
    detected, retraining triggered by an alert, the new version swapped in under traffic, and
    the recovery — then a summary table and an HTML report."""
    with friendly_errors():
        for package in ("sklearn", "matplotlib", "httpx", "uvicorn", "starlette"):
            require(package, "modelyard demo", extra="demo")  # one extra installs them all
        if scenario == "tracking":
            from modelyard.demo import run_tracking

            run_tracking(tracking_uri, plot, cards)
            return
        if scenario != "loop":
            raise typer.BadParameter(f"--scenario must be loop or tracking, not {scenario!r}")
        if weeks < 8:
            raise typer.BadParameter("--weeks must be at least 8 (4 of history, and traffic before and after the shift)")
        from modelyard.core.settings import resolve
        from modelyard.demo import run_loop

        uri = tracking_uri or resolve(None, None).metadata_url
        run_loop(uri, workdir, weeks=weeks, shift_week=weeks // 2 + 1, rows_per_week=rows_per_week)
