"""The demo scenarios behind ``modelyard demo``: the whole loop on generated credit-scoring
data (``run_loop``), and a tracking/registry tour on a bundled data set (``run_tracking``)."""

from modelyard.demo._loop import run_loop
from modelyard.demo._tracking import run_tracking

__all__ = ["run_loop", "run_tracking"]
