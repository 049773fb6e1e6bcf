"""The pipelines tests/pipelines/test_ray_cluster.py runs on a Ray cluster: a file, as users
write them, importing a module from beside it (which the cluster's workers cannot see unless
it is shipped to them)."""

from __future__ import annotations

import json
import os
import time
from typing import Any

from ray_project_helpers import shout, total

import modelyard
from modelyard.pipelines import pipeline, step


def _where() -> dict[str, Any]:
    import ray

    return {
        "node": ray.get_runtime_context().get_node_id(),
        "pid": os.getpid(),
        "session": os.getsid(0),
        "attempt": os.environ["MODELYARD_PIPELINE_ATTEMPT"],
    }


@step
def numbers(n: int) -> list[int]:
    return list(range(1, n + 1))


@step
def add_up(xs: list[int], marker: str) -> int:
    """One marker line per attempt; the first attempt waits there until the test kills its node."""
    line = _where()
    with modelyard.start_run(run_name="add-up"):
        modelyard.log_param("attempt", line["attempt"])
        with open(marker, "a") as f:
            f.write(json.dumps(line) + "\n")
        with open(marker) as f:
            first = len(f.readlines()) == 1
        deadline = time.monotonic() + 240
        while first and time.monotonic() < deadline:
            time.sleep(0.05)
        modelyard.log_metric("total", total(xs))
    return -1 if first else total(xs)


@step
def doubled(x: int) -> int:
    return 2 * x


@pipeline
def survive(n: int = 10, marker: str = "marker.jsonl") -> int:
    return doubled(add_up(numbers(n), marker))


@step(
    cache=False, resources={"num_cpus": 0.5, "memory": 64 * 1024**2, "resources": {"shelf": 0.25}}
)
def placed(label: str) -> dict[str, Any]:
    import ray

    return {
        **_where(),
        "assigned": ray.get_runtime_context().get_assigned_resources(),
        "label": shout(label),
    }


@pipeline
def where(label: str = "here") -> dict[str, Any]:
    return placed(label)


@step
def boom(marker: str) -> int:
    with open(marker, "a") as f:
        f.write(json.dumps(_where()) + "\n")
    raise RuntimeError("the step's own error")


@pipeline
def fails(marker: str = "boom.jsonl") -> int:
    return boom(marker)
