"""Registry search in the runs' language, and tags on models and versions, on every backend."""

from __future__ import annotations

from typing import Any

import pytest

import modelyard as my
from modelyard.core.search_filter import MAX_DEPTH


class Constant(my.PythonModel):
    def __init__(self, value: float) -> None:
        self.value = value

    def predict(self, model_input: Any, params: Any = None) -> list[float]:
        return [self.value] * len(model_input)


@pytest.fixture
def reg(client: my.Client) -> dict[str, Any]:
    """credit v1..v4 (v1, v2 from run a; v3 from run b; v4 from no run), fraud v1 (run b)."""
    experiment = client.create_experiment("e")
    run_a = client.create_run(experiment).info.run_id
    run_b = client.create_run(experiment).info.run_id
    plan = [
        ("credit", run_a, 0.80, "prod", "lr"),
        ("credit", run_a, 0.84, "dev", "lr"),
        ("credit", run_b, 0.91, "prod", "gbm"),
        ("credit", None, 0.86, "dev", "gbm"),
        ("fraud", run_b, 0.70, "prod", "gbm"),
    ]
    for name, run_id, auc, stage, algo in plan:
        client.register_model(
            name,
            Constant(auc),
            input_example={"x": [1.0]},
            run_id=run_id,
            metrics={"auc": auc},
            params={"algo": algo},
            tags={"stage": stage, "owner team": "risk" if name == "credit" else "fraud"},
        )
    client.set_registered_model_tag("credit", "team", "risk")
    client.set_registered_model_tag("fraud", "team", "fraud-ops")
    return {"client": client, "a": run_a, "b": run_b}


def _uris(versions: list[my.ModelVersion]) -> list[str]:
    return [f"{v.name}/{v.version}" for v in versions]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name = 'credit'", ["credit/4", "credit/3", "credit/2", "credit/1"]),
        ("name LIKE 'cred%'", ["credit/4", "credit/3", "credit/2", "credit/1"]),
        ("name ILIKE 'FRAUD'", ["fraud/1"]),
        (
            "name = 'credit' or name = 'fraud'",
            ["credit/4", "credit/3", "credit/2", "credit/1", "fraud/1"],
        ),
        ("version_number > 3", ["credit/4"]),
        ("name = 'credit' and version_number IN (1, 3)", ["credit/3", "credit/1"]),
        ("tags.stage = 'prod'", ["credit/3", "credit/1", "fraud/1"]),
        ("tags.`owner team` = 'fraud'", ["fraud/1"]),
        ("tags.stage != 'prod'", ["credit/4", "credit/2"]),
        ("tags.nope IS NULL and name = 'fraud'", ["fraud/1"]),
        ("metrics.auc >= 0.86", ["credit/4", "credit/3"]),
        ("params.algo = 'gbm' and metrics.auc < 0.9", ["credit/4", "fraud/1"]),
        ("run_id IS NULL", ["credit/4"]),
        (
            "source LIKE 'object:%' and flavor = 'python' and state = 'active'",
            ["credit/4", "credit/3", "credit/2", "credit/1", "fraud/1"],
        ),
    ],
)
def test_version_filters(reg: dict[str, Any], text: str, expected: list[str]) -> None:
    assert _uris(reg["client"].search_model_versions(text)) == expected


def test_run_id_equality_in_and_like(reg: dict[str, Any]) -> None:
    """D9: ``run_id LIKE`` was read as ``run_id =`` (0 rows); it is a LIKE now."""
    client, a, b = reg["client"], reg["a"], reg["b"]
    assert _uris(client.search_model_versions(f"run_id = '{a}'")) == ["credit/2", "credit/1"]
    assert _uris(client.search_model_versions(f"run_id IN ('{a}', '{b}')")) == [
        "credit/3",
        "credit/2",
        "credit/1",
        "fraud/1",
    ]
    assert _uris(client.search_model_versions("run_id LIKE '%'")) == [
        "credit/3",
        "credit/2",
        "credit/1",
        "fraud/1",
    ]
    assert _uris(client.search_model_versions(f"run_id LIKE '{b[:6]}%'")) == ["credit/3", "fraud/1"]
    assert _uris(client.search_model_versions(f"run_id NOT IN ('{a}')")) == ["credit/3", "fraud/1"]


def test_version_order_and_pages(reg: dict[str, Any]) -> None:
    client = reg["client"]
    by_auc = client.search_model_versions(order_by=["metrics.auc DESC"])
    assert _uris(by_auc) == ["credit/3", "credit/4", "credit/2", "credit/1", "fraud/1"]
    oldest = client.search_model_versions("name = 'credit'", order_by=["version_number ASC"])
    assert _uris(oldest) == ["credit/1", "credit/2", "credit/3", "credit/4"]
    seen: list[str] = []
    token = None
    while True:
        page = client.search_model_versions(
            max_results=2, order_by=["metrics.auc"], page_token=token
        )
        seen += _uris(page)
        token = page.token
        if token is None:
            break
    assert seen == ["fraud/1", "credit/1", "credit/2", "credit/4", "credit/3"]
    with pytest.raises(my.ValidationError, match="max_results=0: give a whole number"):
        client.search_model_versions(max_results=0)
    with pytest.raises(my.ValidationError, match="is not a token this store returned"):
        client.search_model_versions(page_token="garbage")


def test_deleted_versions_only_when_asked(reg: dict[str, Any]) -> None:
    client = reg["client"]
    client.delete_model_version("credit", 2)
    assert _uris(client.search_model_versions("name = 'credit'")) == [
        "credit/4",
        "credit/3",
        "credit/1",
    ]
    everything = client.search_model_versions("name = 'credit'", include_deleted=True)
    assert _uris(everything) == ["credit/4", "credit/3", "credit/2", "credit/1"]
    assert _uris(client.search_model_versions("state = 'deleted'", include_deleted=True)) == [
        "credit/2"
    ]


def test_registered_model_filters_order_and_pages(reg: dict[str, Any]) -> None:
    client = reg["client"]
    assert [m.name for m in client.search_registered_models()] == ["credit", "fraud"]
    assert [m.name for m in client.search_registered_models("name LIKE 'fr%'")] == ["fraud"]
    assert [m.name for m in client.search_registered_models("tags.team = 'risk'")] == ["credit"]
    assert [m.name for m in client.search_registered_models("tags.team LIKE '%ops'")] == ["fraud"]
    assert [m.name for m in client.search_registered_models(order_by=["name DESC"])] == [
        "fraud",
        "credit",
    ]
    first = client.search_registered_models(max_results=1)
    assert [m.name for m in first] == ["credit"] and first.token is not None
    second = client.search_registered_models(max_results=1, page_token=first.token)
    assert [m.name for m in second] == ["fraud"] and second.token is None
    credit = client.search_registered_models("name = 'credit'")[0]
    assert credit.latest_version == 4 and credit.tags == {"team": "risk"}


@pytest.mark.parametrize(
    ("search", "text", "problem"),
    [
        (
            "versions",
            "colour = 'red'",
            "model versions can be filtered on .*run_id.*version_number",
        ),
        ("versions", "version_number > 'x'", "numeric; compare it with a number"),
        ("versions", "tags.`bad\"key` = 'x'", "tags key 'bad\"key' contains"),
        ("models", "metrics.auc > 1", "registered models have no metrics"),
        ("models", "version_number = 1", "registered models can be filtered on tags.<name>"),
    ],
)
def test_bad_registry_filters_are_filter_syntax_errors(
    reg: dict[str, Any], search: str, text: str, problem: str
) -> None:
    client = reg["client"]
    run = client.search_model_versions if search == "versions" else client.search_registered_models
    with pytest.raises(my.FilterSyntaxError, match=problem):
        run(text)


@pytest.mark.parametrize("depth", [400, 5000])
def test_deep_nesting_is_refused_everywhere(reg: dict[str, Any], depth: int) -> None:
    """D8: 400-5000 nested parentheses raise FilterSyntaxError, not RecursionError."""
    client = reg["client"]
    experiment = client.get_experiment_by_name("e").experiment_id
    searches = [
        (client.search_model_versions, "name = 'credit'"),
        (client.search_registered_models, "name = 'credit'"),
        (lambda text: client.search_runs([experiment], text), "run_name = 'x'"),
    ]
    for search, clause in searches:
        with pytest.raises(my.FilterSyntaxError, match=f"the limit of {MAX_DEPTH}"):
            search("(" * depth + clause + ")" * depth)


def _alternating(depth: int, leaf: str) -> str:
    """``(leaf or leaf and (leaf or leaf and (...)))``: the deepest SQL a filter can make."""
    text = leaf
    for _ in range(depth):
        text = f"({leaf} or {leaf} and {text})"
    return text


def test_the_deepest_filter_allowed_runs_on_the_database(reg: dict[str, Any]) -> None:
    """The depth limit keeps the SQL within what the database parser takes (SQLite's stack
    overflows near 15 levels): a filter at the limit gives rows, never a StoreError."""
    client = reg["client"]
    experiment = client.get_experiment_by_name("e").experiment_id
    assert len(client.search_model_versions(_alternating(MAX_DEPTH, "metrics.auc > 0.85"))) == 2
    assert len(client.search_model_versions(_alternating(MAX_DEPTH, "tags.stage = 'prod'"))) == 3
    assert client.search_registered_models(_alternating(MAX_DEPTH, "tags.team = 'risk'"))
    assert len(client.search_runs([experiment], _alternating(MAX_DEPTH, "metrics.m IS NULL"))) == 2


# -- tags -----------------------------------------------------------------------------------


def test_version_tags_are_set_deleted_and_audited(reg: dict[str, Any]) -> None:
    client = reg["client"]
    client.set_model_version_tag("credit", 2, "stage", "prod", reason="passed review")
    client.set_model_version_tag("credit", "2", "reviewed_by", 42)
    assert client.get_model_version("credit", 2).tags == {
        "stage": "prod",
        "owner team": "risk",
        "reviewed_by": "42",
    }
    assert _uris(client.search_model_versions("name = 'credit' and tags.stage = 'prod'")) == [
        "credit/3",
        "credit/2",
        "credit/1",
    ]
    client.delete_model_version_tag("credit", 2, "stage")
    assert "stage" not in client.get_model_version("credit", 2).tags
    entries = [e for e in client.get_audit_log("credit") if e.action.endswith("version_tag")]
    assert [(e.action, e.version, e.details) for e in reversed(entries)] == [
        ("set_version_tag", 2, {"key": "stage", "value": "prod", "previous": "dev"}),
        ("set_version_tag", 2, {"key": "reviewed_by", "value": "42", "previous": None}),
        ("delete_version_tag", 2, {"key": "stage", "previous": "prod"}),
    ]
    assert entries[-1].reason == "passed review" and entries[-1].actor


def test_registered_model_tags_are_set_deleted_and_audited(reg: dict[str, Any]) -> None:
    client = reg["client"]
    client.set_registered_model_tag("credit", "team", "credit-risk")
    assert client.get_registered_model("credit").tags == {"team": "credit-risk"}
    client.delete_registered_model_tag("credit", "team")
    assert client.get_registered_model("credit").tags == {}
    actions = [e.action for e in client.get_audit_log("credit") if e.action.endswith("model_tag")]
    assert actions == ["delete_model_tag", "set_model_tag", "set_model_tag"]


def test_tags_are_checked_like_run_tags_and_nothing_is_half_written(
    reg: dict[str, Any],
) -> None:
    client = reg["client"]
    before = client.get_model_version("credit", 1).tags
    with pytest.raises(my.ValidationError, match="tag key 'a\"b' contains"):
        client.set_model_version_tag("credit", 1, 'a"b', "x")
    with pytest.raises(my.ValidationError, match="tag key is empty"):
        client.set_registered_model_tag("credit", "", "x")
    with pytest.raises(
        my.ValidationError, match="has a value of 8001 characters; the limit is 8000"
    ):
        client.set_model_version_tag("credit", 1, "long", "x" * 8001)
    with pytest.raises(my.ValidationError, match="is path-like"):
        client.create_registered_model("other", tags={"../up": "x"})
    with pytest.raises(my.ValidationError, match="tag key 'a\"b' contains"):
        client.update_model_version("credit", 1, tags={'a"b': "x"})
    with pytest.raises(my.ValidationError, match="tag key 'a\"b' contains"):
        client.register_model("credit", Constant(1.0), tags={'a"b': "x"})
    assert client.get_model_version("credit", 1).tags == before
    assert [v.version for v in client.search_model_versions("name = 'credit'")] == [4, 3, 2, 1]
    assert [m.name for m in client.search_registered_models()] == ["credit", "fraud"]


def test_unknown_tags_versions_and_models_are_named(reg: dict[str, Any]) -> None:
    client = reg["client"]
    with pytest.raises(
        my.NotFoundError, match="version 1 of 'credit' has no tag 'nope'; its tags are"
    ):
        client.delete_model_version_tag("credit", 1, "nope")
    with pytest.raises(my.NotFoundError, match="registered model 'credit' has no tag 'nope'"):
        client.delete_registered_model_tag("credit", "nope")
    with pytest.raises(my.NotFoundError, match="model 'credit' has no version 9"):
        client.set_model_version_tag("credit", 9, "k", "v")
    with pytest.raises(my.NotFoundError, match="registered model 'nope' does not exist"):
        client.set_registered_model_tag("nope", "k", "v")
    with pytest.raises(my.ValidationError, match="is not a positive whole number"):
        client.set_model_version_tag("credit", 0, "k", "v")


def test_fluent_search_follows_mlflow(reg: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    client = reg["client"]
    my.set_tracking_uri(client._location.metadata_url)
    monkeypatch.setenv("MODELYARD_ARTIFACT_URI", client.artifact_uri)
    assert [m.name for m in my.search_registered_models(filter_string="tags.team = 'risk'")] == [
        "credit"
    ]
    found = my.search_model_versions(
        filter_string="tags.stage = 'prod'", order_by=["metrics.auc DESC"]
    )
    assert _uris(found) == ["credit/3", "credit/1", "fraud/1"]
    assert _uris(my.search_model_versions(max_results=2)) == ["credit/4", "credit/3"]
