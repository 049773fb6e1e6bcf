"""Identifiers and clocks."""

from __future__ import annotations

import time
import uuid


def new_run_id() -> str:
    """A new run id: 32 lowercase hex characters, like MLflow's."""
    return uuid.uuid4().hex


def now_ms() -> int:
    """Milliseconds since the epoch, the unit of every stored timestamp."""
    return time.time_ns() // 1_000_000
