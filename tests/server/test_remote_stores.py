"""The feature registry, monitoring and profile stores over HTTP answer as the SQL ones.

The same assertions run on both backends (``stores``: a ``SqlStore`` and an ``HttpStore`` on a
live server over the same kind of database, SQLite and PostgreSQL); the profile store's own
tests run a second time against a live server; then the server's edges: a client's mistake
is a 4xx naming the field, a viewer is refused before the body is read, a retried write is
done once."""

from __future__ import annotations

import base64
import zlib
from collections.abc import Iterator

import pytest

from modelyard.core.errors import ConflictError, PermissionDeniedError, ValidationError
from modelyard.store import SqlStore
from modelyard.store._monitor_store import AlertEvent, MetricPoint
from modelyard.store._profile_store import ProfileStore
from modelyard.store._remote import HttpStore
from modelyard.store._remote._profiles import HttpProfileStore
from tests.monitoring.test_profile_store import (  # noqa: F401 - run again over HTTP
    _merge_bytes,
    _profile,
    test_files_are_folded_in_once_and_hours_merge,
    test_folder_marks_are_replaced,
)

from .conftest import Live

Stores = SqlStore | HttpStore


@pytest.fixture(params=["sql", "http"])
def stores(request: pytest.FixtureRequest, store_url: str) -> Iterator[Stores]:
    """The metadata store in process, or the same kind of store behind a live team server."""
    if request.param == "sql":
        sql = SqlStore(store_url)
        yield sql
        sql.close()
        return
    live: Live = request.getfixturevalue("live_server")
    remote = HttpStore(live.url, live.user("ada", "editor"))
    yield remote
    remote.close()


@pytest.fixture
def store(live_server: Live) -> Iterator[ProfileStore | HttpProfileStore]:
    """The profile store's own tests (imported above) get the remote one here."""
    remote = HttpStore(live_server.url, live_server.user("ada", "editor"))
    yield remote.profiles
    remote.close()


# -- the feature registry ----------------------------------------------------------------


def test_feature_definitions_are_applied_replaced_and_dropped(stores: Stores) -> None:
    features = stores.features
    assert features.definitions("credit") == {} and features.projects() == []
    spec = {"name": "finances", "ttl": 86400, "schema": [{"name": "income", "dtype": "float64"}]}
    features.apply(
        "credit", {("view", "finances"): spec, ("entity", "applicant"): {"join_keys": ["id"]}}, []
    )
    features.apply("other", {("view", "x"): {}}, [])
    assert features.definitions("credit") == {
        ("view", "finances"): spec,
        ("entity", "applicant"): {"join_keys": ["id"]},
    }
    features.apply("credit", {("view", "finances"): {**spec, "ttl": 60}}, [("entity", "applicant")])
    assert features.definitions("credit") == {("view", "finances"): {**spec, "ttl": 60}}
    assert features.projects() == ["credit", "other"]


def test_materializations_give_watermarks_and_freshness(stores: Stores) -> None:
    features = stores.features
    assert features.watermark("credit", "finances", "online.db") is None
    features.record_materialization("credit", "finances", "online.db", 0, 1_000, 10)
    features.record_materialization("credit", "finances", "online.db", 1_000, 5_000, 4)
    features.record_materialization("credit", "finances", "redis://h:6379/0", 0, 2_000, 7)
    assert features.watermark("credit", "finances", "online.db") == 5_000
    assert features.watermark("credit", "finances", "redis://h:6379/0") == 2_000
    assert features.watermark("credit", "bureau", "online.db") is None
    fresh = sorted(features.last_materializations("credit"), key=lambda r: r["online_store"])
    assert [{k: v for k, v in row.items() if k != "completed_time"} for row in fresh] == [
        {
            "view": "finances",
            "online_store": "online.db",
            "watermark": 5_000,
            "runs": 2,
            "rows": 14,
        },
        {
            "view": "finances",
            "online_store": "redis://h:6379/0",
            "watermark": 2_000,
            "runs": 1,
            "rows": 7,
        },
    ]
    assert all(isinstance(r["completed_time"], int) for r in fresh)
    assert features.last_materializations("nothing") == []


# -- monitoring results and alerts -------------------------------------------------------


def _point(name: str, value: float | None, column: str = "") -> MetricPoint:
    return MetricPoint("credit", 0, 0, name, column, "*", "*", value)


def test_window_results_are_replaced_and_read_back(stores: Stores) -> None:
    monitoring = stores.monitoring
    assert monitoring.endpoints() == [] and monitoring.points("credit") == []
    monitoring.record("credit", 0, 100, [_point("rows", 5.0), _point("drift", None, "income")])
    monitoring.record("credit", 0, 100, [_point("rows", 6.0), _point("drift", 0.25, "income")])
    monitoring.record("credit", 100, 200, [_point("rows", 7.0)])
    monitoring.record("fraud", 0, 100, [])
    got = monitoring.points("credit")
    assert got == [
        MetricPoint("credit", 0, 100, "rows", "", "*", "*", 6.0),
        MetricPoint("credit", 0, 100, "drift", "income", "*", "*", 0.25),
        MetricPoint("credit", 100, 200, "rows", "", "*", "*", 7.0),
    ]
    assert all(type(p) is MetricPoint for p in got)
    assert [p.value for p in monitoring.points("credit", "rows", since=100)] == [7.0]
    assert [p.value for p in monitoring.points("credit", "rows", until=100)] == [6.0]
    rows = monitoring.rows("credit")
    assert rows == [
        (0, 100, "rows", "", "*", "*", 6.0),
        (0, 100, "drift", "income", "*", "*", 0.25),
        (100, 200, "rows", "", "*", "*", 7.0),
    ]
    assert all(type(r) is tuple for r in rows)
    assert monitoring.endpoints() == ["credit"]  # a window without results leaves no row


def test_alerts_are_recorded_and_the_last_one_found(stores: Stores) -> None:
    monitoring = stores.monitoring
    assert monitoring.last_alert("credit", "drift > 0.3") is None and monitoring.alerts() == []
    first = AlertEvent("drift > 0.3", "credit", 100, 1_000, 0.4, "webhook", "sent", "200")
    second = AlertEvent("drift > 0.3", "credit", 200, 2_000, None, "log", "logged", "")
    other = AlertEvent("rows < 1", "fraud", 100, 1_500, 0.0, "log", "logged", "quiet")
    for event in (first, second, other):
        monitoring.record_alert(event)
    assert monitoring.last_alert("credit", "drift > 0.3") == second
    assert monitoring.last_alert("credit", "rows < 1") is None
    assert monitoring.alerts() == [second, other, first]
    assert monitoring.alerts("credit", limit=1) == [second]
    assert all(type(a) is AlertEvent for a in monitoring.alerts())


def test_profiles_conflict_the_same_way(stores: Stores) -> None:
    profiles = stores.profiles
    profiles.add("credit", ["a"], {0: (1, _profile([1.0]))}, _merge_bytes)
    with pytest.raises(ConflictError, match="another monitor pass"):
        profiles.add("credit", ["b", "a"], {0: (1, _profile([2.0]))}, _merge_bytes)
    assert profiles.seen("credit", []) == set() and profiles.hours("credit", 1, 2) == []


# -- the server's edges ------------------------------------------------------------------


def test_client_mistakes_are_4xx_naming_the_field(live_server: Live) -> None:
    with live_server.http(live_server.user("ada", "editor")) as http:
        bad_alert = http.post(
            "/api/v1/monitors/credit/alerts",
            json={"rule": "", "window_end": 1, "fired_time": 1, "value": None, "action": "log",
                  "status": "logged", "detail": ""},
        )  # fmt: skip
        no_store = http.get("/api/v1/features/projects/credit/watermark", params={"view": "v"})
        bad_limit = http.get("/api/v1/alerts", params={"limit": "lots"})
        bad_since = http.get("/api/v1/monitors/credit/points", params={"since": "yesterday"})
        no_end = http.get("/api/v1/monitors/credit/profiles", params={"start": "0"})
        bad_rows = http.post(
            "/api/v1/features/projects/credit/materializations",
            json={"view": "v", "online_store": "s", "start": 0, "end": 1, "rows": -1},
        )
        not_base64 = http.post(
            "/api/v1/monitors/credit/profiles",
            json={"names": ["f"], "hours": [{"hour_start": 0, "rows": 1, "profile": "!!"}]},
        )
        garbage = base64.b64encode(zlib.compress(b"not a profile")).decode()
        not_a_profile = http.post(
            "/api/v1/monitors/credit/profiles",
            json={"names": ["f"], "hours": [{"hour_start": 0, "rows": 1, "profile": garbage}]},
        )
        bomb = base64.b64encode(zlib.compress(b"\0" * (80 * 1024 * 1024), 9)).decode()
        zip_bomb = http.post(
            "/api/v1/monitors/credit/profiles",
            json={"names": ["f"], "hours": [{"hour_start": 0, "rows": 1, "profile": bomb}]},
        )
        unknown_field = http.put(
            "/api/v1/monitors/credit/profiles/folders", json={"marks": {}, "extra": 1}
        )
        seen_after = http.post("/api/v1/monitors/credit/profiles/seen", json={"names": ["f"]})
    expected = [
        (bad_alert, "rule"),
        (no_store, "online_store"),
        (bad_limit, "limit"),
        (bad_since, "since"),
        (no_end, "end"),
        (bad_rows, "rows"),
        (not_base64, "hours.0.profile"),
        (not_a_profile, "hours.0.profile"),
        (zip_bomb, "hours.0.profile"),
        (unknown_field, "extra"),
    ]
    for answer, field in expected:
        assert answer.status_code == 400, (field, answer.text)
        assert field in answer.json()["error"]["message"], (field, answer.text)
    assert seen_after.json() == {"names": []}  # nothing of a refused fold was written


def test_a_viewer_reads_but_is_refused_before_the_body_is_read(live_server: Live) -> None:
    viewer = live_server.user("vic", "viewer")
    remote = HttpStore(live_server.url, viewer)
    try:
        assert remote.features.projects() == [] and remote.monitoring.alerts() == []
        assert remote.profiles.folder_marks("credit") == {}
        with pytest.raises(PermissionDeniedError, match="needs the global role 'editor'"):
            remote.features.apply("credit", {("view", "v"): {}}, [])
    finally:
        remote.close()
    writes = [
        ("POST", "/api/v1/features/projects/credit/definitions"),
        ("POST", "/api/v1/features/projects/credit/materializations"),
        ("PUT", "/api/v1/monitors/credit/windows"),
        ("POST", "/api/v1/monitors/credit/alerts"),
        ("POST", "/api/v1/monitors/credit/profiles"),
        ("PUT", "/api/v1/monitors/credit/profiles/folders"),
    ]
    with live_server.http(viewer) as http:
        for method, path in writes:
            # not JSON: a server that looked at the body first would answer 415
            answer = http.request(
                method, path, content=b"x" * 1000, headers={"content-type": "text/plain"}
            )
            assert answer.status_code == 403, (path, answer.text)
            assert "editor" in answer.json()["error"]["message"]


def test_a_retried_write_is_done_once(live_server: Live) -> None:
    alert = {"rule": "r", "window_end": 1, "fired_time": 1, "value": 1.0, "action": "log",
             "status": "logged", "detail": ""}  # fmt: skip
    run = {"view": "v", "online_store": "s", "start": 0, "end": 9, "rows": 3}
    with live_server.http(live_server.user("ada", "editor")) as http:
        for _ in range(2):  # the same request id twice: the answer to the first was "lost"
            headers = {"x-request-id": "retry-alert-0001"}
            assert (
                http.post("/api/v1/monitors/credit/alerts", json=alert, headers=headers).status_code
                == 200
            )
            headers = {"x-request-id": "retry-materialize-1"}
            assert (
                http.post(
                    "/api/v1/features/projects/p/materializations", json=run, headers=headers
                ).status_code
                == 200
            )
    store = live_server.state.store
    assert len(store.monitoring.alerts("credit")) == 1
    assert store.features.last_materializations("p")[0]["runs"] == 1


def test_unknown_names_answer_as_the_sql_store(live_server: Live) -> None:
    remote = HttpStore(live_server.url, live_server.user("ada", "editor"))
    try:
        assert remote.features.definitions("nothing") == {}
        assert remote.monitoring.points("nothing", "rows") == []
        assert remote.profiles.hours("nothing", 0, 10) == []
        with pytest.raises(ValidationError, match="rows"):
            remote.features.record_materialization("p", "v", "s", 0, 1, -1)
    finally:
        remote.close()
