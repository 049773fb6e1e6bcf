"""Pipelines used by the tests (a file, as users write them)."""

from __future__ import annotations

import os
import time

import numpy as np
import pandas as pd

from modelyard.pipelines import Schedule, pipeline, step
from modelyard.registry import Client

CALLS: list[str] = []


@step
def load(rows: int, seed: int = 0) -> pd.DataFrame:
    CALLS.append("load")
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"x1": rng.normal(size=rows), "x2": rng.normal(size=rows)})
    frame["y"] = (frame.x1 + frame.x2 > 0).astype(int)
    return frame


@step
def train(data: pd.DataFrame, C: float = 1.0) -> str:
    from sklearn.linear_model import LogisticRegression

    import modelyard

    CALLS.append("train")
    with modelyard.start_run(run_name=f"train-C{C}"):
        modelyard.log_param("C", C)
        model = LogisticRegression(C=C).fit(data[["x1", "x2"]], data["y"])
        modelyard.log_metric("accuracy", float(model.score(data[["x1", "x2"]], data["y"])))
        version = modelyard.registry.log_model(model, "model", registered_model_name="toy", input_example=data[["x1", "x2"]].head(3))
    return version.model_version.uri


@step(cache=False)
def promote(uri: str) -> str:
    CALLS.append("promote")
    name, number = uri.removeprefix("models:/").split("/")
    Client().set_registered_model_alias(name, "champion", int(number), reason="pipeline")
    return uri


@pipeline
def training(rows: int = 200, C: float = 1.0, seed: int = 0) -> str:
    return promote(train(load(rows, seed=seed), C=C))


@step
def slow(seconds: float, marker: str) -> str:
    with open(marker, "a") as f:
        f.write(f"{os.getpid()}\n")
    time.sleep(seconds)
    return "done"


@pipeline
def sleepy(seconds: float = 0.1, marker: str = "marker.txt") -> str:
    return slow(seconds, marker)


hourly = Schedule("hourly-sleepy", "sleepy", "0 * * * *", {"seconds": 0.0})
