"""Every page of the UI over the demo's store, through real HTTP: each answers, and its JSON
twin carries the data the page shows; a client's mistake is a 4xx page that echoes nothing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import modelyard

from ..server.live import serve
from .conftest import Site


def _ids(site: Site) -> dict[str, str]:
    with site.http() as http:
        experiments = http.get("/ui/index.json").json()["experiments"]
        experiment = next(e for e in experiments if e["name"] == "credit-demo")
        runs = http.get(f"/ui/experiments/{experiment['experiment_id']}.json").json()["runs"]
        pipeline = http.get("/ui/pipelines.json").json()["runs"][0]
    return {"experiment": experiment["experiment_id"], "run": runs[0]["run_id"], "run2": runs[1]["run_id"],
            "pipeline": pipeline["run_id"]}


def test_every_page_and_its_json_twin(demo_site: Site) -> None:
    ids = _ids(demo_site)
    pages = {
        "/ui/": "experiments", f"/ui/experiments/{ids['experiment']}": "runs", f"/ui/runs/{ids['run']}": "params",
        f"/ui/compare?run={ids['run']}&run={ids['run2']}": "differing", "/ui/models": "models",
        "/ui/models/credit": "alias_moves", "/ui/models/credit/versions/1": "graph", "/ui/features": "projects",
        "/ui/monitoring": "endpoints", "/ui/monitoring/credit": "series", "/ui/pipelines": "runs",
        f"/ui/pipelines/{ids['pipeline']}": "steps", "/ui/admin": "users",
    }
    with demo_site.http() as http:
        for path, key in pages.items():
            page = http.get(path)
            assert page.status_code == 200, path
            assert page.headers["content-type"].startswith("text/html")
            assert "queried in" in page.text
            base, _, query = path.partition("?")
            twin_path = ("/ui/index" if base == "/ui/" else base) + ".json" + (f"?{query}" if query else "")
            twin = http.get(twin_path)
            assert twin.status_code == 200 and key in twin.json(), path
        assert http.get("/", follow_redirects=False).headers["location"] == "/ui/"
        assert http.get("/ui/static/vendor/htmx.min.js").status_code == 200
        assert http.get("/ui/static/vendor/uPlot.iife.min.js").status_code == 200


def test_the_demo_story_is_on_the_pages(demo_site: Site) -> None:
    with demo_site.http() as http:
        model = http.get("/ui/models/credit.json").json()
        moves = [m for m in model["alias_moves"] if m["alias"] == "champion"]
        assert len(moves) == 2 and moves[0]["from_version"] == 1  # the champion, then the retrained swap
        assert all(c["passed"] for c in model["last_gate"]["checks"])
        endpoint = http.get("/ui/monitoring/credit.json").json()
        assert set(endpoint["drifted_columns"]) == {"income", "debt_ratio"}
        assert any(a["pipeline_run"] for a in endpoint["alerts"])  # the alert's retraining run
        assert endpoint["swaps"] and endpoint["thresholds"]
        assert "threshold" in endpoint["series"]["columns"]["income"]
        dist = http.get("/ui/monitoring/credit/distributions.json").json()
        assert {c["column"] for c in dist["columns"]} == {"income", "debt_ratio"}
        assert all(len(c["reference"]) == len(c["current"]) > 10 for c in dist["columns"])
        champion = model["model"]["aliases"]["champion"]
        version = http.get(f"/ui/models/credit/versions/{champion}.json").json()
        kinds = {n["kind"] for n in version["graph"]["nodes"]}
        assert {"data", "features", "run", "pipeline", "version", "endpoint"} <= kinds
        card = http.get(version["card_url"])
        assert card.status_code == 200 and "Model card" in card.text
        assert card.headers["content-security-policy"].startswith("sandbox")
        run = http.get(f"/ui/pipelines/{version['lineage']['pipeline_run']['run_id']}.json").json()
        assert run["run"]["trigger_kind"] == "alert"
        assert run["run"]["trigger_detail"] == "drift_share >= 0.3"  # the rule, not "alert alert:..."
        for path in ("/ui/pipelines", f"/ui/pipelines/{run['run']['run_id']}"):
            text = http.get(path).text
            assert "<code>drift_share &gt;= 0.3</code>" in text and "alert:drift_share" not in text, path
        assert {"training_data", "train", "promote"} <= {s["step"] for s in run["steps"]}
        assert any(s["after"] for s in run["steps"])  # the DAG's edges were recorded


@pytest.mark.parametrize(
    ("trigger", "kind", "detail"),
    [("manual", "manual", ""), ("", "manual", ""), ("alert:auc < 0.7", "alert", "auc < 0.7"),
     ("schedule:nightly", "schedule", "nightly"), ("schedule", "schedule", ""), ("webhook:deploy", "webhook", "deploy")],
)
def test_a_pipeline_trigger_is_shown_once(trigger: str, kind: str, detail: str) -> None:
    from modelyard.server.ui._pipelines import trigger_detail, trigger_kind

    assert (trigger_kind(trigger), trigger_detail(trigger)) == (kind, detail)


def test_runs_table_sorts_filters_and_pages(demo_site: Site) -> None:
    ids = _ids(demo_site)
    base = f"/ui/experiments/{ids['experiment']}.json"
    with demo_site.http() as http:
        everything = http.get(base).json()
        aucs = [r["values"]["metrics.holdout_auc"] for r in http.get(base, params={"order": "metrics.holdout_auc DESC"}).json()["runs"]]
        assert aucs == sorted(aucs, reverse=True) and len(aucs) == everything["total"]
        first = http.get(base, params={"order": "metrics.holdout_auc DESC", "limit": 1}).json()
        second = http.get(base, params={"order": "metrics.holdout_auc DESC", "limit": 1, "cursor": first["next_cursor"]}).json()
        assert [r["values"]["metrics.holdout_auc"] for r in first["runs"] + second["runs"]] == aucs[:2]
        gbm = http.get(base, params={"filter": "params.kind = 'gbm'", "col": ["params.kind", "metrics.holdout_auc"]}).json()
        assert gbm["total"] >= 1 and {r["values"]["params.kind"] for r in gbm["runs"]} == {"gbm"}
        assert gbm["columns"] == ["params.kind", "metrics.holdout_auc"]
        bad = http.get(base, params={"filter": "metrics.auc >>> <script>"})
        assert bad.status_code == 200 and bad.json()["filter_error"]  # said next to the box
        page = http.get(base[:-5], params={"filter": "metrics.auc >>> <script>x"})
        assert "<script>x" not in page.text
        partial = http.get(base[:-5], params={"order": "start_time ASC"}, headers={"hx-request": "true", "hx-target": "runs-table"})
        assert partial.text.lstrip().startswith('<div id="runs-table"')


@pytest.mark.parametrize(
    ("path", "status"),
    [("/ui/runs/nope", 404), ("/ui/runs/nope.json", 404), ("/ui/models/credit/versions/x", 400),
     ("/ui/experiments/1.json?limit=5000", 400), ("/ui/experiments/1.json?col=wrong", 400),
     ("/ui/experiments/1.json?cursor=AAAA", 400), ("/ui/monitoring/nothing-here", 404), ("/ui/compare", 400)],
)
def test_mistakes_are_4xx_pages_that_echo_nothing(demo_site: Site, path: str, status: int) -> None:
    with demo_site.http() as http:
        answer = http.get(path)
    assert answer.status_code == status
    if path.endswith(".json") or ".json?" in path:
        assert answer.json()["error"]["message"]
    else:
        assert "<!doctype html>" in answer.text and "5000" not in answer.text


def test_artifacts_preview_in_sandboxes(tmp_path: Path) -> None:
    from modelyard.server import ServerConfig, build_state, create_app

    url = f"sqlite:///{tmp_path / 'store' / 'modelyard.db'}"
    client = modelyard.Client(url)
    experiment = client.create_experiment("artifacts")
    run = client.create_run(experiment)
    rid = run.info.run_id
    client.log_text(rid, "<script>document.title='owned'</script><h1>report</h1>", "report.html")
    client.log_dict(rid, {"b": [1, 2], "a": "x"}, "config.json")
    client.log_text(rid, "a,b\n1,2\n3,<b>4</b>\n", "data/head.csv")
    client.log_text(rid, "x: 1\n", "params.yaml")
    state = build_state(ServerConfig(backend_store_uri=url, auth="none"))
    with serve(create_app(state=state)) as base, modelyard_http(base) as http:
        page = http.get(f"/ui/runs/{rid}", params={"artifact": "report.html"}).text
        assert re.search(r'<iframe src="/ui/runs/[0-9a-f]+/raw\?path=report.html" sandbox ', page)
        raw = http.get(f"/ui/runs/{rid}/raw", params={"path": "report.html"})
        assert raw.headers["content-security-policy"].startswith("sandbox")
        assert raw.headers["x-content-type-options"] == "nosniff"
        data = http.get(f"/ui/runs/{rid}.json", params={"artifact": "config.json"}).json()["preview"]
        assert data["kind"] == "json" and '"b": [' in data["text"]
        csv = http.get(f"/ui/runs/{rid}.json", params={"artifact": "data/head.csv"}).json()["preview"]
        assert csv["header"] == ["a", "b"] and csv["rows"][1] == ["3", "<b>4</b>"]
        assert "&lt;b&gt;4&lt;/b&gt;" in http.get(f"/ui/runs/{rid}", params={"artifact": "data/head.csv"}).text
        assert http.get(f"/ui/runs/{rid}/raw", params={"path": "missing.txt"}).status_code == 404


def modelyard_http(base: str) -> object:
    import httpx

    return httpx.Client(base_url=base, timeout=30)
