"""The feature server, started with `modelyard features serve` and driven over real HTTP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from modelyard.features import FeatureStore
from modelyard.http._direct import DirectProtocol
from modelyard.server import feature_server
from modelyard.server._features_app import DIRECT_BYTES

from ..features.conftest import REPO, write_data
from .live import serve

TIMEOUT = 30  # the server is another process, on a machine that may be loaded


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(repo: Path, env: dict[str, str], *options: str) -> tuple[subprocess.Popen[bytes], str, list[str]]:
    """`modelyard features serve` on a free port, once it answers; with its startup lines."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "modelyard", "features", "serve", "--repo", str(repo), "--port", str(port), *options],
        env={**env, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120  # a loaded machine may take long to import and start
    while True:
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"server did not start: {proc.communicate()}")
        time.sleep(0.05)
    assert proc.stdout is not None
    os.set_blocking(proc.stdout.fileno(), False)  # printed before it listened: all there now
    lines = (proc.stdout.read() or b"").decode().splitlines()
    return proc, base, lines


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    proc.wait(timeout=60)
    for stream in (proc.stdout, proc.stderr):
        if stream:
            stream.close()


def _materialized(tmp_path: Path) -> tuple[Path, str, str]:
    """A repo with two views materialized into a SQLite online store: (repo, tracking uri,
    online store)."""
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
    return repo, uri, online


@pytest.fixture(scope="module")
def started(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[str]]]:
    repo, uri, online = _materialized(tmp_path_factory.mktemp("feature-server"))
    proc, base, lines = _start(repo, {**os.environ, "MODELYARD_TRACKING_URI": uri}, "--online-store", online)
    try:
        yield base, lines
    finally:
        _stop(proc)


@pytest.fixture(scope="module")
def server(started: tuple[str, list[str]]) -> str:
    return started[0]


def test_online_features_over_http(server: str) -> None:
    reply = httpx.post(
        f"{server}/get-online-features",
        json={
            "features": ["finances:income", "bureau:open_loans"],
            "entities": {"applicant_id": [1, 2, 3]},
        },
        timeout=TIMEOUT,
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
        timeout=TIMEOUT,
    ).json()
    assert by_service["metadata"]["feature_names"] == [
        "applicant_id",
        "income",
        "debt_ratio",
        "open_loans",
    ]
    assert httpx.get(f"{server}/openapi.json", timeout=TIMEOUT).json()["paths"]["/get-online-features"]["post"]


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
        (
            b'{"features": ["finances:income"], "entities": {"applicant_id": []}}',
            400,
            "entities.applicant_id is empty; give at least one entity",
        ),
        (
            b'{"features": ["finances:income"], "entities": {"applicant_id": ['
            + b"[" * 1000 + b"1" + b"]" * 1000 + b"]}}",
            400,
            "entities.applicant_id[0] must be an integer (entity 'applicant' declares int64 join keys), got a list",
        ),
        (
            b'{"features": ["finances:income"], "entities": {"applicant_id": [1, "1"]}}',
            400,
            "entities.applicant_id[1] must be an integer (entity 'applicant' declares int64 join keys), "
            'got a string (send 1, not "1")',
        ),
        (
            b'{"features": ["finances:income"], "entities": {"applicant_id": [1.0]}}',
            400,
            "entities.applicant_id[0] must be an integer",
        ),
        (
            b'{"features": ["finances:income"], "entities": {"applicant_id": [true]}}',
            400,
            "got a boolean",
        ),
        (
            b'{"features": ["finances:income"], "entities": {"applicant_id": [null]}}',
            400,
            "entities.applicant_id[0] is null",
        ),
        (
            b'{"features": ["finances:income"], "entities": {"applicant_id": [{}]}}',
            400,
            "got an object",
        ),
        (
            b'{"features": ["finances:income"], "entities": {"applicant_id": [1], "income": [5]}}',
            400,
            "'income' in entities is not a join key of the requested features; they need ['applicant_id']",
        ),
        (
            b'{"features": ["finances:income"], "entities": {"applicant_id": [1], "'
            + b"<script>" * 20 + b'": [5]}}',
            400,
            "'<script><script><script><script><script>…' in entities is not a join key",
        ),
    ],
)
def test_client_mistakes_are_4xx_naming_the_field(
    server: str, body: bytes, status: int, message: str
) -> None:
    reply = httpx.post(
        f"{server}/get-online-features", content=body, headers={"content-type": "application/json"}, timeout=TIMEOUT
    )
    assert reply.status_code == status
    assert message in reply.json()["error"]["message"]


def test_oversized_bodies_and_unknown_routes(server: str) -> None:
    big = b'{"entities": {"applicant_id": [' + b"1," * 600_000 + b"1]}}"
    reply = httpx.post(
        f"{server}/get-online-features", content=big, headers={"content-type": "application/json"}, timeout=TIMEOUT
    )
    assert reply.status_code == 413 and "limit" in reply.json()["error"]["message"]
    assert "1,1,1" not in reply.text  # input is never echoed back
    missing = httpx.get(f"{server}/nowhere/<b>", timeout=TIMEOUT)
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/json"
    assert missing.json()["error"]["type"] == "NotFound" and "<b>" not in missing.text
    wrong = httpx.get(f"{server}/get-online-features", timeout=TIMEOUT)
    assert wrong.status_code == 405 and wrong.headers["content-type"] == "application/json"
    assert wrong.json()["error"]["type"] == "MethodNotAllowed" and wrong.headers["allow"] == "POST"


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_a_body_not_sent_as_json_is_refused_before_it_is_read(
    server: str, content_type: str | None
) -> None:
    """A browser form (text/plain, urlencoded) posts without a CORS preflight: refused, 415."""
    body = b'{"features": ["finances:income"], "entities": {"applicant_id": [1]}}'
    headers = {"content-type": content_type} if content_type else {}
    reply = httpx.post(f"{server}/get-online-features", content=body, headers=headers, timeout=TIMEOUT)
    assert reply.status_code == 415
    assert reply.json()["error"]["type"] == "UnsupportedMediaType"
    ok = httpx.post(
        f"{server}/get-online-features",
        content=body,
        headers={"content-type": "application/json; charset=utf-8"},
        timeout=TIMEOUT,
    )
    assert ok.status_code == 200


def test_the_server_says_which_online_store_it_reads(started: tuple[str, list[str]]) -> None:
    _, lines = started
    assert lines[0].startswith("serving features of ") and " (2 online views) on http://127.0.0.1:" in lines[0]
    assert lines[1].startswith("online store: sqlite:///") and lines[1].rstrip().endswith("online.db")
    assert "default" not in lines[1] and not any("warning" in line for line in lines)


def test_the_default_store_is_named_and_an_empty_one_flagged(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "definitions.py").write_text(REPO)
    write_data(repo)
    env = {**os.environ, "MODELYARD_TRACKING_URI": str(tmp_path / "store"), "MODELYARD_HOME": str(tmp_path / "home")}
    env.pop("MODELYARD_ONLINE_STORE", None)
    proc, base, lines = _start(repo, env)
    try:
        text = "".join(lines)
        assert f"online store: sqlite:///{tmp_path / 'home' / 'online.db'} (the default; choose another with --online-store" in text
        assert "warning: nothing is materialized in this store for finances, bureau: every lookup will answer NOT_FOUND" in text
        reply = httpx.post(f"{base}/get-online-features", json={"features": ["finances:income"], "entities": {"applicant_id": [1]}}, timeout=TIMEOUT)
        assert reply.json()["results"][1]["statuses"] == ["NOT_FOUND"]
    finally:
        _stop(proc)


class _Counting:
    """A feature server's direct responder, counting what it answered and what it declined."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.max_bytes = inner.max_bytes
        self.answered = 0
        self.declined = 0

    def accepts(self, path: str) -> bool:
        return bool(self.inner.accepts(path))

    def __call__(self, path: str, headers: list[tuple[bytes, bytes]], body: bytes) -> Any:
        answer = self.inner(path, headers, body)
        if answer is None:
            self.declined += 1
        else:
            self.answered += 1
        return answer


def test_small_lookups_are_answered_directly_as_the_app_answers_them(tmp_path: Path) -> None:
    """`modelyard features serve`'s protocol looks a small JSON request up on the event loop
    (no request cycle, no thread pool); a body over DIRECT_BYTES goes to the app. Both give the
    same bytes; whatever the direct path declines (errors, other content types) the app
    answers with its error."""
    repo, uri, online = _materialized(tmp_path)
    app = feature_server(FeatureStore(repo_path=repo, tracking_uri=uri, online_store=online))
    counting = _Counting(app.direct_responder)  # type: ignore[attr-defined]
    app.direct_responder = counting  # type: ignore[attr-defined]
    json_type = {"content-type": "application/json"}
    payloads = [
        {"features": ["finances:income", "bureau:open_loans"], "entities": {"applicant_id": [1, 2, 3]}},
        {"feature_service": "credit_v1", "entities": {"applicant_id": [2, 1]}, "full_feature_names": True},
    ]
    with serve(app, http=DirectProtocol) as base, httpx.Client(base_url=base, timeout=TIMEOUT) as client:
        for payload in payloads:
            small = json.dumps(payload).encode()
            padded = small + b" " * DIRECT_BYTES  # the same request, too long to answer directly
            direct = client.post("/get-online-features", content=small, headers=json_type)
            by_app = client.post("/get-online-features", content=padded, headers=json_type)
            assert direct.status_code == by_app.status_code == 200
            assert direct.content == by_app.content
            assert direct.headers["content-type"] == by_app.headers["content-type"]
            assert direct.headers["content-length"] == by_app.headers["content-length"]
        assert client.post("/get-online-features", content=small, headers=json_type).json()["results"][1] == {
            "values": [None, 1234.5],
            "statuses": ["OUTSIDE_TTL", "PRESENT"],  # applicant 2's value is 60 days old
        }
        assert (counting.answered, counting.declined) == (3, 0)
        unknown = client.post(
            "/get-online-features",
            content=b'{"features": ["finances:incom"], "entities": {"applicant_id": [1]}}',
            headers=json_type,
        )
        assert unknown.status_code == 404 and "did you mean 'finances:income'" in unknown.json()["error"]["message"]
        wrong = client.post(
            "/get-online-features", content=b'{"entities": {"applicant_id": [1.5]}, "features": ["finances:income"]}',
            headers=json_type,
        )
        assert wrong.status_code == 400 and "entities.applicant_id[0] must be an integer" in wrong.text
        form = client.post("/get-online-features", content=small, headers={"content-type": "text/plain"})
        assert form.status_code == 415
        twice = client.post(
            "/get-online-features",
            content=small,
            headers=[("content-type", "application/json"), ("content-type", "text/plain")],
        )
        assert twice.status_code == 200  # Starlette reads the first; the direct path leaves it to the app
        assert (counting.answered, counting.declined) == (3, 4)
        assert client.get("/health").json() == {"status": "ok"}


def test_a_redis_online_store_is_looked_up_in_the_thread_pool(tmp_path: Path) -> None:
    """A Redis lookup waits on the network: it never runs on the event loop."""
    from ..features.conftest import redis_url

    repo, uri, _ = _materialized(tmp_path)
    app = feature_server(FeatureStore(repo_path=repo, tracking_uri=uri, online_store=redis_url()))
    assert getattr(app, "direct_responder", None) is None
    with serve(app, http=DirectProtocol) as base:
        reply = httpx.post(
            f"{base}/get-online-features",
            json={"features": ["finances:income"], "entities": {"applicant_id": [987_654_321]}},
            timeout=TIMEOUT,
        )
    assert reply.status_code == 200
    assert reply.json()["results"][1]["statuses"] == ["NOT_FOUND"]
