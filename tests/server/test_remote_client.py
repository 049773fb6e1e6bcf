"""The Python client against a real team server: only the tracking URI changes.

Every test drives the public API (the fluent functions and ``Client``) over real HTTP on
loopback, with the server's own store underneath (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

import modelyard
from modelyard.core import errors as E
from modelyard.entities import Metric
from modelyard.store._remote import HttpStore
from modelyard.store._remote._transport import error_for

from .conftest import Live


@pytest.fixture
def remote(live_server: Live, monkeypatch: pytest.MonkeyPatch) -> Live:
    """The fluent API pointed at the live server with an editor's token."""
    monkeypatch.setenv("MODELYARD_TRACKING_TOKEN", live_server.user("ada", "editor"))
    modelyard.set_tracking_uri(live_server.url)
    return live_server


def test_tracking_registry_and_load_model_run_over_http_with_only_the_uri_changed(
    remote: Live, tmp_path: Path
) -> None:
    X = np.random.default_rng(0).normal(size=(60, 3))
    y = (X[:, 0] > 0).astype(int)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "a.txt").write_text("alpha")
    (tmp_path / "out" / "sub").mkdir()
    (tmp_path / "out" / "sub" / "b.txt").write_text("beta")

    modelyard.set_experiment("remote")
    with modelyard.start_run(run_name="first") as run:
        modelyard.log_params({"C": 1.0, "solver": "lbfgs"})
        for step in range(5):
            modelyard.log_metric("loss", 1.0 / (step + 1), step=step)
        modelyard.log_metrics({"auc": 0.9, "acc": 0.8})
        modelyard.set_tag("team", "risk")
        modelyard.log_dict({"k": 1}, "cfg/params.json")
        modelyard.log_artifacts(tmp_path / "out", "files")
        model = LogisticRegression().fit(X, y)
        modelyard.sklearn.log_model(
            model, "model", registered_model_name="churn", input_example=X[:2]
        )
    with modelyard.start_run(run_name="second"):
        modelyard.log_metric("auc", 0.7)

    client = modelyard.Client()
    assert isinstance(client.store, HttpStore)
    run_id = run.info.run_id
    stored = client.get_run(run_id)
    assert stored.data.params == {"C": "1.0", "solver": "lbfgs"}
    assert stored.data.metrics["loss"] == pytest.approx(0.2)
    assert stored.data.tags["team"] == "risk"
    assert stored.info.user == "ada"  # the token's user, not whatever the client claims
    assert [m.step for m in client.get_metric_history(run_id, "loss")] == [0, 1, 2, 3, 4]
    assert client.resolve_run_id(run_id[:8]) == run_id

    experiment_id = run.info.experiment_id
    found = client.search_runs([experiment_id], "metrics.auc > 0.8 and params.solver = 'lbfgs'")
    assert [r.info.run_id for r in found] == [run_id]
    first = client.search_runs([experiment_id], order_by=["metrics.auc DESC"], max_results=1)
    assert first.token is not None and first[0].info.run_id == run_id
    rest = client.search_runs(
        [experiment_id], order_by=["metrics.auc DESC"], page_token=first.token
    )
    assert [r.info.run_name for r in rest] == ["second"] and rest.token is None

    listed = {f.path for f in client.list_artifacts(run_id)}
    assert listed == {"cfg", "files", "model"}
    assert client.read_artifact(run_id, "files/sub/b.txt") == b"beta"
    local = Path(client.download_artifacts(run_id, "files", tmp_path / "dl"))
    assert (local / "a.txt").read_text() == "alpha" and (
        local / "sub" / "b.txt"
    ).read_text() == "beta"

    client.set_registered_model_alias("churn", "champion", 1)
    client.set_model_version_tag("churn", 1, "validated", "yes")
    client.set_registered_model_tag("churn", "owner-team", "risk")
    loaded = modelyard.load_model("models:/churn@champion")
    assert (loaded.predict(X[:5]) == model.predict(X[:5])).all()
    version = client.get_model_version_by_alias("churn", "champion")
    assert version.tags == {"validated": "yes"} and version.aliases == ["champion"]
    assert client.get_registered_model("churn").tags == {"owner-team": "risk"}
    hits = client.search_model_versions("name = 'churn' and tags.validated = 'yes'")
    assert [v.version for v in hits] == [1]
    assert [m.name for m in client.search_registered_models("name LIKE 'ch%'")] == ["churn"]
    audit = client.get_audit_log("churn")
    assert {e.action for e in audit} >= {"register", "set_alias"}
    assert {e.actor for e in audit} == {"ada"}


def test_errors_come_back_as_the_classes_the_local_store_raises(remote: Live) -> None:
    client = modelyard.Client()
    experiment_id = client.create_experiment("errors")
    run = client.create_run(experiment_id)
    client.log_param(run.info.run_id, "lr", 0.1)
    with pytest.raises(E.NotFoundError, match="does not exist"):
        client.get_run("0" * 32)
    with pytest.raises(E.ParamConflictError):
        client.log_param(run.info.run_id, "lr", 0.2)
    with pytest.raises(E.FilterSyntaxError):
        client.search_runs([experiment_id], "metrics.auc >>> 1")
    with pytest.raises(E.ConflictError, match="already exists"):
        client.create_experiment("errors")
    client.set_terminated(run.info.run_id)
    with pytest.raises(E.InvalidStateError, match="no longer accepts data"):
        client.log_metric(run.info.run_id, "loss", 1.0)
    with pytest.raises(E.ValidationError, match="max_results"):
        client.search_runs([experiment_id], max_results=0)


def test_every_error_class_the_server_names_maps_back_to_itself() -> None:
    request = httpx.Request("GET", "http://server/api/v1/x")
    for cls in [E.ModelyardError, *_all_subclasses(E.ModelyardError)]:
        if cls.__module__ != E.__name__:
            continue
        answer = httpx.Response(
            418, json={"error": {"type": cls.__name__, "message": "m"}}, request=request
        )
        expected = E.ConfigurationError if cls is E.MissingDependencyError else cls
        assert type(error_for(answer)) is expected  # a missing extra is the server's setup
    assert type(error_for(httpx.Response(403, text="no json", request=request))) is (
        E.PermissionDeniedError
    )


def _all_subclasses(cls: type) -> list[type]:
    return [s for sub in cls.__subclasses__() for s in (sub, *_all_subclasses(sub))]


def test_a_token_of_the_wrong_role_is_refused_with_403_naming_the_permission(
    live_server: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELYARD_TRACKING_TOKEN", live_server.user("vic", "viewer"))
    client = modelyard.Client(live_server.url)
    assert client.search_experiments() == []  # reading is allowed
    with pytest.raises(E.PermissionDeniedError, match="needs the global role 'editor'"):
        client.create_experiment("not-for-viewers")
    with live_server.http(live_server.user("val", "viewer")) as http:
        answer = http.post("/api/v1/experiments", json={"name": "x"})
    assert answer.status_code == 403
    assert answer.json()["error"]["type"] == "PermissionDeniedError"
    assert "editor" in answer.json()["error"]["message"]
    monkeypatch.setenv("MODELYARD_TRACKING_TOKEN", "my_not-a-real-token")
    with pytest.raises(E.AuthenticationError):
        modelyard.Client(live_server.url).search_experiments()


def test_sixteen_concurrent_clients_lose_no_point(remote: Live) -> None:
    client = modelyard.Client()
    experiment_id = client.create_experiment("concurrent")
    runs = [client.create_run(experiment_id).info.run_id for _ in range(16)]
    points = 100
    failures: list[BaseException] = []

    def work(run_id: str) -> None:
        mine = modelyard.Client()
        try:
            for step in range(points):
                if step % 10 == 9:
                    mine.log_batch(run_id, metrics=[Metric("batch", float(step), 0, step)])
                else:
                    mine.log_metric(run_id, "loss", float(step), step=step)
        except BaseException as error:  # reported below, in the test's thread
            failures.append(error)

    threads = [threading.Thread(target=work, args=(run_id,)) for run_id in runs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    for run_id in runs:
        loss = client.get_metric_history(run_id, "loss")
        batch = client.get_metric_history(run_id, "batch")
        assert sorted(m.step for m in loss + batch) == list(range(points))


def test_async_logging_is_flushed_at_end_run_and_loses_nothing(
    remote: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELYARD_ASYNC_LOGGING", "true")
    modelyard.set_tracking_uri(remote.url)  # a new fluent client, which reads the setting
    with modelyard.start_run() as run:
        for step in range(5000):
            modelyard.log_metric("loss", float(step), step=step)
    client = modelyard.Client()
    history = client.get_metric_history(run.info.run_id, "loss")
    assert [m.step for m in history] == list(range(5000))
    assert client.get_run(run.info.run_id).info.status.value == "FINISHED"


def test_async_logging_reports_points_it_could_not_store(
    remote: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELYARD_ASYNC_LOGGING", "true")
    client = modelyard.Client(remote.url)
    run_id = client.create_run(client.create_experiment("async-fail")).info.run_id
    client.log_metric("f" * 32, "loss", 1.0)  # a run that does not exist: queued, then refused
    with pytest.raises(modelyard.exceptions.ModelyardError, match="could not store") as raised:
        client.flush()
    assert isinstance(raised.value.__cause__, E.NotFoundError)
    client.log_metric(run_id, "loss", 2.0)
    client.flush()
    assert [m.value for m in client.get_metric_history(run_id, "loss")] == [2.0]


def test_users_create_through_a_team_server_needs_an_admin_token(
    live_server: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from typer.testing import CliRunner

    from modelyard.cli import app

    args = ["users", "create", "bob", "--role", "viewer", "--json", "-t", live_server.url]
    monkeypatch.setenv("MODELYARD_TRACKING_TOKEN", live_server.user("eve", "editor"))
    refused = CliRunner().invoke(app, args)
    assert refused.exit_code != 0 and "admin" in refused.output
    monkeypatch.setenv("MODELYARD_TRACKING_TOKEN", live_server.user("root", "admin"))
    made = CliRunner().invoke(app, args)
    assert made.exit_code == 0, made.output
    created = json.loads(made.output)
    assert created["user"] == "bob" and created["role"] == "viewer"
    with live_server.http(created["token"]) as http:
        assert http.get("/api/v1/whoami").json() == {"name": "bob", "role": "viewer"}


def test_a_file_of_several_chunks_goes_up_streamed_and_comes_back_verified(
    remote: Live, tmp_path: Path
) -> None:
    data = np.random.default_rng(1).bytes(5 * (1 << 20) + 123)  # 5 MiB and a bit: several chunks
    (tmp_path / "big.bin").write_bytes(data)
    client = modelyard.Client()
    run_id = client.create_run(client.create_experiment("big")).info.run_id
    client.log_artifact(run_id, tmp_path / "big.bin", "blobs")
    assert client.read_artifact(run_id, "blobs/big.bin") == data
    local = client.download_artifacts(run_id, "blobs/big.bin", tmp_path / "back")
    assert Path(local).read_bytes() == data


def test_a_write_answered_503_is_retried_with_the_same_request_id_until_it_succeeds() -> None:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from modelyard.store._remote import Transport

    from .live import serve

    seen: list[str] = []

    async def flaky(request: Request) -> JSONResponse:
        seen.append(request.headers["x-request-id"])
        if len(seen) < 3:
            return JSONResponse({"error": {"type": "Timeout", "message": "busy"}}, 503)
        return JSONResponse({})

    app = Starlette(routes=[Route("/api/v1/runs/{run_id}/metrics", flaky, methods=["POST"])])
    pauses: list[float] = []
    with serve(app) as url:
        transport = Transport(url, retry_for=60, sleep=pauses.append)
        transport.request("POST", f"/runs/{'a' * 32}/metrics", content=b"{}")
        assert len(seen) == 3 and len(set(seen)) == 1  # one write, one id, three attempts
        assert len(pauses) == 2 and pauses[0] < pauses[1] * 2  # backed off between attempts
        seen.clear()
        gone = Transport(url, retry_for=0, sleep=pauses.append)
        with pytest.raises(E.ServerUnavailableError, match="cannot be reached after 1 attempts"):
            gone.request("POST", f"/runs/{'a' * 32}/metrics", content=b"{}")
        transport.close()
        gone.close()
