"""Datasets: versions addressed by content hash, with schema and statistical profile."""

from modelyard.data._dataset import from_numpy, from_pandas, profile

__all__ = ["from_numpy", "from_pandas", "profile"]
