"""The feature server, started with `modelyard features serve` and driven over real HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pandas as pd
import pytest

from modelyard.features import FeatureStore

from ..features.conftest import REPO


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp_path = tmp_path_factory.mktemp("feature-server")
    repo = tmp_path / "repo"
    (repo / "data").mkdir(parents=True)
    (repo / "definitions.py").write_text(REPO)
    now = datetime.now(tz=UTC)
    pd.DataFrame(
        {
            "applicant_id": [1, 2],
            "event_time": [now - timedelta(days=1), now - timedelta(days=60)],
            "created": [now - timedelta(days=1), now - timedelta(days=60)],
            "income": [1234.5, 99.0],
            "debt_ratio": [0.3, 0.9],
            "segment": ["a", "b"],
        }
    ).to_parquet(repo / "data" / "finances.parquet")
    pd.DataFrame(
        {
            "applicant_id": [1],
            "event_time": [now - timedelta(days=2)],
            "open_loans": [2],
            "income": [1.0],
        }
    ).to_parquet(repo / "data" / "bureau.parquet")
    uri, online = str(tmp_path / "store"), str(tmp_path / "online.db")
    fs = FeatureStore(repo_path=repo, tracking_uri=uri, online_store=online)
    fs.apply()
    fs.materialize(now - timedelta(days=90), now, progress=False)
    port = _free_port()
    env = {**os.environ, "MODELYARD_TRACKING_URI": uri}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "modelyard",
            "features",
            "serve",
            "--repo",
            str(repo),
            "--port",
            str(port),
            "--online-store",
            online,
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{base}/health", timeout=0.5).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        else:
            raise AssertionError(
                f"server did not start: {proc.stderr.read().decode() if proc.stderr else ''}"
            )  # type: ignore[union-attr]
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stderr:
            proc.stderr.close()


def test_online_features_over_http(server: str) -> None:
    reply = httpx.post(
        f"{server}/get-online-features",
        json={
            "features": ["finances:income", "bureau:open_loans"],
            "entities": {"applicant_id": [1, 2, 3]},
        },
    )
    assert reply.status_code == 200
    body = reply.json()
    assert body["metadata"]["feature_names"] == ["applicant_id", "income", "open_loans"]
    income = body["results"][1]
    assert income["values"] == [1234.5, None, None]
    assert income["statuses"] == [
        "PRESENT",
        "OUTSIDE_TTL",
        "NOT_FOUND",
    ]  # 60-day-old value, 30-day TTL
    by_service = httpx.post(
        f"{server}/get-online-features",
        json={"feature_service": "credit_v1", "entities": {"applicant_id": [1]}},
    ).json()
    assert by_service["metadata"]["feature_names"] == [
        "applicant_id",
        "income",
        "debt_ratio",
        "open_loans",
    ]
    assert httpx.get(f"{server}/openapi.json").json()["paths"]["/get-online-features"]["post"]


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b"[1, 2]", 400, "must be a JSON object"),
        (b'{"features": ["finances:income"]}', 400, "'entities' must be an object"),
        (
            b'{"features": ["finances:income"], "entities": {"applicant_id": 1}}',
            400,
            "entities.applicant_id must be a list",
        ),
        (
            b'{"features": ["finances:incom"], "entities": {"applicant_id": [1]}}',
            404,
            "did you mean 'finances:income'",
        ),
        (
            b'{"features": ["finances:income"], "entities": {"customer": [1]}}',
            400,
            "lack the join key 'applicant_id'",
        ),
        (
            b'{"feature_service": "nope", "entities": {"applicant_id": [1]}}',
            404,
            "feature service 'nope' does not exist",
        ),
        (
            b'{"features": ["finances:income", "bureau:income"], "entities": {"applicant_id": [1]}}',
            400,
            "full_feature_names=True",
        ),
    ],
)
def test_client_mistakes_are_4xx_naming_the_field(
    server: str, body: bytes, status: int, message: str
) -> None:
    reply = httpx.post(
        f"{server}/get-online-features", content=body, headers={"content-type": "application/json"}
    )
    assert reply.status_code == status
    assert message in reply.json()["error"]["message"]


def test_oversized_bodies_and_unknown_routes(server: str) -> None:
    big = b'{"entities": {"applicant_id": [' + b"1," * 600_000 + b"1]}}"
    reply = httpx.post(f"{server}/get-online-features", content=big)
    assert reply.status_code == 413 and "limit" in reply.json()["error"]["message"]
    assert "1,1,1" not in reply.text  # input is never echoed back
    assert httpx.get(f"{server}/nowhere").status_code == 404
