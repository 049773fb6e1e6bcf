"""Serving fixtures: registered models in a fresh store, and servers on real loopback sockets."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
import uvicorn
import yaml

from modelyard.features import FeatureStore
from modelyard.http._direct import DirectProtocol
from modelyard.registry import Client
from modelyard.serving import ScoringServer

from ..features.conftest import REPO, forget  # noqa: F401 (forget: a fixture, Redis keys of a test go after it)
from ..poll import until

__all__ = ["until"]  # the serving tests import it from here


def deployment_file(tmp_path: Path, body: dict[str, Any]) -> str:
    """A deployment YAML file holding ``body``; its path."""
    path = tmp_path / "deployment.yaml"
    path.write_text(yaml.safe_dump(body))
    return str(path)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Registered:
    uri: str
    client: Client
    X: pd.DataFrame
    y: pd.Series

    def rows(self, n: int = 2, start: int = 0) -> list[dict[str, Any]]:
        return self.X.iloc[start : start + n].to_dict(orient="records")


@pytest.fixture
def registered(tmp_path: Path) -> Registered:
    """Two versions of a breast-cancer classifier; `champion` -> 1, `challenger` -> 2."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import GradientBoostingClassifier

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    uri = str(tmp_path / "store")
    client = Client(uri)
    for trees in (10, 30):
        model = GradientBoostingClassifier(n_estimators=trees, max_depth=2, random_state=0).fit(X, y)
        client.register_model("cancer", model, input_example=X.head(5))
    client.set_registered_model_alias("cancer", "champion", 1)
    client.set_registered_model_alias("cancer", "challenger", 2)
    return Registered(uri, client, X, y)


class Running:
    def __init__(self, server: ScoringServer, base: str, uvicorn_server: uvicorn.Server, thread: threading.Thread) -> None:
        self.server = server
        self.base = base
        self.http = httpx.Client(base_url=base, timeout=30)
        self._uvicorn = uvicorn_server
        self._thread = thread

    def stop(self) -> None:
        self.http.close()
        self._uvicorn.should_exit = True
        self._thread.join(timeout=20)


@pytest.fixture
def serve(registered: Registered) -> Iterator[Callable[..., Running]]:
    """Start a scoring server for a target on a free loopback port, in this process."""
    started: list[Running] = []

    def start(target: str, uvicorn_options: dict[str, Any] | None = None, **kwargs: Any) -> Running:
        """``uvicorn_options`` go to ``uvicorn.Config``; the protocol is ``modelyard serve``'s
        (plain predict requests answered directly) unless they name another ``http``."""
        server = ScoringServer(target, tracking_uri=registered.uri, **kwargs)
        port = free_port()
        options = {"http": DirectProtocol, **(uvicorn_options or {})}
        config = uvicorn.Config(
            server.app(), host="127.0.0.1", port=port, log_level="warning", lifespan="on", **options
        )
        uv = uvicorn.Server(config)
        thread = threading.Thread(target=uv.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not uv.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise AssertionError("server did not start")
            time.sleep(0.02)
        running = Running(server, f"http://127.0.0.1:{port}", uv, thread)
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


def credit_endpoint(registered: Registered, tmp_path: Path, online: str, repo_name: str = "repo") -> tuple[Path, Any]:
    """A deployment of one endpoint that looks a model's three features up in ``online``
    (materialized from a two-applicant repo named ``repo_name``); and the model."""
    from sklearn.linear_model import LogisticRegression

    repo = tmp_path / repo_name
    (repo / "data").mkdir(parents=True)
    (repo / "definitions.py").write_text(REPO)
    now = datetime.now(tz=UTC)
    pd.DataFrame(
        {
            "applicant_id": [1, 2],
            "event_time": [now - timedelta(days=1)] * 2,
            "created": [now - timedelta(days=1)] * 2,
            "income": [5000.0, 200.0],
            "debt_ratio": [0.1, 0.9],
            "segment": ["a", "b"],
        }
    ).to_parquet(repo / "data" / "finances.parquet")
    pd.DataFrame(
        {"applicant_id": [1, 2], "event_time": [now - timedelta(days=2)] * 2, "open_loans": [0, 6], "income": [1.0, 1.0]}
    ).to_parquet(repo / "data" / "bureau.parquet")
    store = FeatureStore(repo_path=repo, tracking_uri=registered.uri, online_store=online)
    store.apply()
    store.materialize(now - timedelta(days=30), now, progress=False)

    rng = np.random.default_rng(0)
    train = pd.DataFrame({"income": rng.uniform(0, 6000, 400), "debt_ratio": rng.uniform(0, 1, 400), "open_loans": rng.integers(0, 8, 400)})
    label = (train.debt_ratio * 3 + train.open_loans / 4 - train.income / 3000 > 1).astype(int)
    model = LogisticRegression(max_iter=1000).fit(train, label)
    registered.client.register_model("credit", model, input_example=train.head(3))

    deployment = tmp_path / "deployment.yaml"
    deployment.write_text(
        yaml.safe_dump(
            {
                "endpoints": [
                    {
                        "name": "credit",
                        "routes": [{"model": "models:/credit/1"}],
                        "features": {"repo": str(repo), "service": "credit_v1", "online_store": online},
                    }
                ]
            }
        )
    )
    return deployment, model
