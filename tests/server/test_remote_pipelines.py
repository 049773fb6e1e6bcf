"""The pipeline store over a team server: every method answers what the database store
answers, leases stay compare-and-set on the server (two clients racing for a take-over: one
winner), the server's clock dates what the client leaves undated, roles are enforced, bad
input is a 400 naming the field, and a pipeline runs against the server end to end."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

import modelyard
from modelyard.core import errors as E
from modelyard.core.ids import now_ms
from modelyard.pipelines import pipeline, step
from modelyard.store._pipeline_store import PipelineStore, StepRunRow
from modelyard.store._remote import HttpPipelineStore, HttpStore

from .conftest import Live

LEASE = 60_000


@pytest.fixture
def connect(live_server: Live) -> Iterator[Callable[[str], HttpPipelineStore]]:
    """Pipeline stores over HTTP, each with a new user's token of the role asked for."""
    opened: list[HttpStore] = []

    def make(role: str = "editor") -> HttpPipelineStore:
        opened.append(
            HttpStore(live_server.url, live_server.user(f"u{uuid.uuid4().hex[:8]}", role))
        )
        return opened[-1].pipelines

    yield make
    for store in opened:
        store.close()


def _exercise(store: PipelineStore | HttpPipelineStore, prefix: str) -> list[Any]:
    """Every method of the pipeline store, with fixed clocks; what each answered."""
    run, other, train = f"{prefix}-run", f"{prefix}-sched", f"{prefix}-train"
    out: list[Any] = [
        store.create_run(run, train, trigger="manual", params={"C": 1.0, "weeks": [1, 2]},
                         engine="inprocess", owner="me", lease_ms=LEASE, now=1_000),
        store.create_run(f"{prefix}-dup", train, trigger="schedule:nightly", params={},
                         engine="inprocess", owner="me", lease_ms=LEASE, firing_key=f"{prefix}:k1", now=1_000),
        store.create_run(f"{prefix}-dup2", train, trigger="schedule:nightly", params={},
                         engine="inprocess", owner="me", lease_ms=LEASE, firing_key=f"{prefix}:k1", now=1_000),
        store.create_run(other, train, trigger="schedule:nightly", params={}, engine="process",
                         owner="dead", lease_ms=10, firing_key=f"{prefix}:k2", now=2_000),
        store.renew(run, "me", LEASE, now=1_500),
        store.renew(run, "someone-else", LEASE, now=1_500),
        store.take_over(other, "late", LEASE, now=2_005),  # not expired yet
        sorted(store.mark_abandoned(now=3_000)),
        [r.run_id for r in store.abandoned(now=3_000)],
        store.take_over(other, "scheduler-b", LEASE, now=3_000),
        store.take_over(other, "scheduler-c", LEASE, now=3_000),
        store.finish(run, "me", "succeeded", now=4_000),
        store.finish(run, "me-not", "failed", "boom", now=4_000),
        store.get_run(run, now=5_000),
        store.get_run(other, now=5_000),
        store.get_run("nope", now=5_000),
        [r.run_id for r in store.runs(train, 10, now=5_000)],
        [r.run_id for r in store.runs(None, 1, now=5_000)],
        sorted(store.firing_keys(f"{prefix}:")),
    ]  # fmt: skip
    store.record_step(
        StepRunRow(
            run,
            "load",
            "k" * 64,
            "ran",
            "d" * 64,
            1_100,
            1_200,
            {"runs": [f"{prefix}-abc"], "after": []},
        )
    )
    store.record_step(
        StepRunRow(run, "fit", "c" * 64, "cached", None, 1_300, None, {"after": ["load"]})
    )
    store.cache(f"{prefix}-key", "load", "d" * 64)
    store.cache(f"{prefix}-key", "load", "e" * 64)  # the first one stays
    store.set_schedule(f"{prefix}-nightly", "train", "0 2 * * *", {"weeks": [1]}, now=7_000)
    store.set_schedule(f"{prefix}-nightly", "train", "0 3 * * *", {"weeks": [2]}, now=8_000)
    out += [
        store.steps(run),
        store.steps("nope"),
        store.steps_linking("runs", f"{prefix}-abc"),
        store.cached(f"{prefix}-key"),
        store.cached("missing"),
        [s for s in store.schedules() if s.name.startswith(prefix)],
        store.delete_schedule(f"{prefix}-nightly"),
        store.delete_schedule(f"{prefix}-nightly"),
    ]
    return out


def test_every_method_answers_over_http_what_the_database_store_answers(
    live_server: Live, connect: Callable[..., HttpPipelineStore]
) -> None:
    local = _exercise(live_server.state.store.pipelines, "p")
    remote = _exercise(connect(), "p2")
    text = repr(remote).replace("p2-", "p-").replace("p2:", "p:")
    assert text == repr(local)
    assert local[0] is True and local[2] is False and local[9] is True and local[10] is False


def test_two_clients_racing_for_a_take_over_over_http_have_one_winner(
    live_server: Live, connect: Callable[..., HttpPipelineStore]
) -> None:
    local = live_server.state.store.pipelines
    won: list[tuple[str, bool]] = []
    for round_ in range(5):
        run_id = f"race-{round_}"
        local.create_run(run_id, "train", trigger="schedule:s", params={}, engine="inprocess",
                         owner="dead", lease_ms=1, firing_key=f"s:{round_}", now=0)  # fmt: skip
        stores = [connect(), connect()]
        barrier = threading.Barrier(2)

        def claim(
            store: HttpPipelineStore,
            name: str,
            run_id: str = run_id,
            barrier: threading.Barrier = barrier,
        ) -> None:
            barrier.wait()
            won.append((name, store.take_over(run_id, name, LEASE, now=10)))

        threads = [
            threading.Thread(target=claim, args=(s, f"r{round_}-{i}")) for i, s in enumerate(stores)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        winners = [name for name, ok in won[-2:] if ok]
        assert len(winners) == 1
        row = local.get_run(run_id, now=10)
        assert row is not None and row.lease_owner == winners[0] and row.attempts == 2


def test_a_lease_without_now_is_dated_by_the_server_clock(
    connect: Callable[..., HttpPipelineStore],
) -> None:
    store = connect()
    before = now_ms()
    assert store.create_run("clock", "train", trigger="manual", params={}, engine="inprocess",
                            owner="me", lease_ms=LEASE)  # fmt: skip
    row = store.get_run("clock")
    assert row is not None and row.lease_expires is not None
    assert before <= row.created_time and row.lease_expires == row.created_time + LEASE


def test_a_retried_lease_write_answers_what_its_first_attempt_answered(live_server: Live) -> None:
    token = live_server.user("retrier", "editor")
    local = live_server.state.store.pipelines
    local.create_run("retried", "train", trigger="schedule:s", params={}, engine="inprocess",
                     owner="dead", lease_ms=1, firing_key="s:retried", now=0)  # fmt: skip
    with live_server.http(token) as http:
        headers = {"x-request-id": uuid.uuid4().hex}
        body = {"owner": "me", "lease_ms": LEASE, "now": 10}
        answers = [
            http.post("/api/v1/pipeline-runs/retried/take-over", json=body, headers=headers).json()
            for _ in range(2)
        ]
        step_body = {"step": "load", "cache_key": "k", "status": "ran", "started_time": 1}
        for _ in range(2):
            assert (
                http.post(
                    "/api/v1/pipeline-runs/retried/steps",
                    json=step_body,
                    headers=headers | {"x-request-id": "step-req-1"},
                ).status_code
                == 200
            )
        create = {
            "run_id": "made",
            "pipeline": "p",
            "trigger": "manual",
            "engine": "inprocess",
            "owner": "me",
            "lease_ms": LEASE,
        }
        created = [
            http.post(
                "/api/v1/pipeline-runs", json=create, headers={"x-request-id": "create-req-1"}
            ).json()
            for _ in range(2)
        ]
    assert answers == [{"ok": True}, {"ok": True}]
    row = local.get_run("retried", now=10)
    assert row is not None and row.attempts == 2  # taken over once
    assert len(local.steps("retried")) == 1
    assert created == [{"ok": True}, {"ok": True}]


def test_reads_need_a_viewer_and_writes_an_editor(
    live_server: Live, connect: Callable[..., HttpPipelineStore]
) -> None:
    viewer = connect("viewer")
    assert viewer.runs() == [] and viewer.schedules() == []
    with pytest.raises(E.PermissionDeniedError, match="editor"):
        viewer.create_run(
            "x", "p", trigger="manual", params={}, engine="inprocess", owner="o", lease_ms=LEASE
        )
    with pytest.raises(E.PermissionDeniedError, match="editor"):
        viewer.set_schedule("s", "p", "0 * * * *", {})
    with live_server.http() as anonymous:
        assert anonymous.get("/api/v1/pipeline-runs").status_code == 401
    assert live_server.state.store.pipelines.runs() == []


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "/api/v1/pipeline-runs/r/renew", {"owner": "o", "lease_ms": 0}, "lease_ms"),
        (
            "POST",
            "/api/v1/pipeline-runs/r/renew",
            {"owner": "o", "lease_ms": 5, "status": "done"},
            "status",
        ),
        ("POST", "/api/v1/pipeline-runs/r/finish", {"owner": "o", "status": "maybe"}, "status"),
        ("POST", "/api/v1/pipeline-runs/r/take-over", {"lease_ms": 5}, "owner"),
        ("POST", "/api/v1/pipeline-runs", {"run_id": "", "pipeline": "p"}, "run_id"),
        ("POST", "/api/v1/abandoned-pipeline-runs", {"now": -1}, "now"),
        ("PUT", "/api/v1/pipeline-schedules/s", {"pipeline": "p"}, "cron"),
        ("GET", "/api/v1/pipeline-runs?limit=abc", None, "limit"),
        ("GET", "/api/v1/pipeline-runs/r?now=-5", None, "now"),
        ("GET", "/api/v1/pipeline-steps?key=runs", None, "value"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(
    live_server: Live, method: str, path: str, body: dict[str, Any] | None, field: str
) -> None:
    with live_server.http(live_server.user("ed", "editor")) as http:
        answer = http.request(method, path, json=body)
    assert answer.status_code == 400, answer.text
    assert field in answer.json()["error"]["message"]


def test_a_pipeline_runs_against_the_server_with_its_steps_cached(
    live_server: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELYARD_TRACKING_TOKEN", live_server.user("runner", "editor"))

    @step
    def double(x: int) -> int:
        return 2 * x

    @step
    def tracked(y: int) -> int:
        with modelyard.start_run(run_name="inside"):
            modelyard.log_metric("y", y)
        return y + 1

    @pipeline
    def flow(x: int = 3) -> int:
        return tracked(double(x))

    first = flow.run(tracking_uri=live_server.url, x=3)
    second = flow.run(tracking_uri=live_server.url, x=3)
    assert first.output == second.output == 7
    assert [s.status for s in second.steps] == ["cached", "cached"]
    local = live_server.state.store.pipelines
    row = local.get_run(first.run_id)
    assert row is not None and row.status == "succeeded" and row.lease_owner is not None
    steps = local.steps(first.run_id)
    assert [s.step for s in steps] == ["double", "tracked"]
    tracking_runs = steps[1].links.get("runs")
    assert tracking_runs and local.steps_linking("runs", tracking_runs[0])[0].run_id == first.run_id


def test_the_openapi_document_has_the_pipeline_and_webhook_operations(live_server: Live) -> None:
    doc = httpx.get(f"{live_server.url}/openapi.json").json()
    ops = {op["operationId"] for path in doc["paths"].values() for op in path.values()}
    assert {
        "take_over_pipeline_run",
        "record_pipeline_step",
        "create_webhook",
        "send_gate_result",
    } <= ops
