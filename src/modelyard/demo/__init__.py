"""The demo scenarios behind ``modelyard demo``: the whole loop on generated credit-scoring
data (``run_loop``), a tracking/registry tour on a bundled data set (``run_tracking``), and
the demo's data for trying the README's snippets (``credit_applications``).

The scenarios load on first use: ``credit_applications`` needs only pandas and NumPy, the
loop also the scoring server's packages (``pip install 'modelyard[demo]'``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from modelyard.demo._credit_data import credit_applications

if TYPE_CHECKING:
    from modelyard.demo._loop import run_loop
    from modelyard.demo._tracking import run_tracking

__all__ = ["credit_applications", "run_loop", "run_tracking"]


def __getattr__(name: str) -> Any:
    if name == "run_loop":
        from modelyard.demo._loop import run_loop

        return run_loop
    if name == "run_tracking":
        from modelyard.demo._tracking import run_tracking

        return run_tracking
    raise AttributeError(f"module 'modelyard.demo' has no attribute {name!r}")
