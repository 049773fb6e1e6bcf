"""Two ``modelyard server`` replicas on one PostgreSQL schema give the same answers: what is
written through one (runs, metrics, a model version, an alias move, a pipeline run's lease) is
read the same through the other, and a take-over raced across the two has one winner."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

import modelyard

from .test_remote_kill import ServerProcess

LEASE = 60_000


@pytest.fixture
def replicas(postgres_url: str, tmp_path: Path) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    first, second = ServerProcess(tmp_path, postgres_url), ServerProcess(tmp_path, postgres_url)
    first.start()  # migrates the schema; the second finds it at head
    try:
        second.start()
        yield first, second
    finally:
        second.stop()
        first.stop()


def test_two_replicas_on_one_postgresql_give_the_same_answers(
    replicas: tuple[ServerProcess, ServerProcess],
) -> None:
    one, other = (modelyard.Client(r.url) for r in replicas)
    experiment_id = one.create_experiment("shared")
    run = one.create_run(experiment_id, run_name="written-through-one")
    run_id = run.info.run_id
    for step in range(5):
        one.log_metric(run_id, "loss", 1.0 / (step + 1), step=step)
    one.log_param(run_id, "C", "1.0")
    one.set_terminated(run_id)
    x = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.0]])
    version = one.register_model("shared-model", LogisticRegression().fit(x, [0, 1, 0, 1]))
    one.set_registered_model_alias("shared-model", "champion", version.version)
    pipelines_one, pipelines_other = one.store.pipelines, other.store.pipelines
    assert pipelines_one.create_run("held", "nightly", trigger="schedule:nightly", params={"weeks": [1]},
                                    engine="inprocess", owner="runner-a", lease_ms=LEASE, firing_key="nightly:1", now=1_000)  # fmt: skip

    assert other.get_run(run_id) == one.get_run(run_id)
    assert other.get_metric_history(run_id, "loss") == one.get_metric_history(run_id, "loss")
    assert [r.info.run_id for r in other.search_runs([experiment_id])] == [run_id]
    assert other.get_model_version_by_alias("shared-model", "champion") == one.get_model_version(
        "shared-model", version.version
    )
    assert other.store.registry.audit_log("shared-model") == one.store.registry.audit_log(
        "shared-model"
    )
    assert pipelines_other.get_run("held", now=2_000) == pipelines_one.get_run("held", now=2_000)
    assert pipelines_other.firing_keys("nightly:") == {"nightly:1"}
    assert not pipelines_other.renew("held", "runner-b", LEASE, now=2_000)  # runner-a holds it
    assert pipelines_other.renew("held", "runner-a", LEASE, now=2_000)

    predicted = other.load_model("models:/shared-model@champion").predict(x)
    assert list(predicted) == [0, 1, 0, 1]


def test_a_take_over_raced_across_two_replicas_has_one_winner(
    replicas: tuple[ServerProcess, ServerProcess],
) -> None:
    stores = [modelyard.Client(r.url).store.pipelines for r in replicas]
    for round_ in range(5):
        run_id = f"race-{round_}"
        assert stores[0].create_run(run_id, "nightly", trigger="schedule:nightly", params={}, engine="inprocess",
                                    owner="dead", lease_ms=1, firing_key=f"nightly:{round_}", now=0)  # fmt: skip
        barrier = threading.Barrier(2)
        answers: dict[str, bool] = {}

        def claim(
            index: int,
            run_id: str = run_id,
            barrier: threading.Barrier = barrier,
            answers: dict[str, bool] = answers,
        ) -> None:
            barrier.wait()
            answers[f"replica-{index}"] = stores[index].take_over(
                run_id, f"replica-{index}", LEASE, now=10
            )

        threads = [threading.Thread(target=claim, args=(i,)) for i in (0, 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        winners = [owner for owner, ok in answers.items() if ok]
        assert len(winners) == 1, answers
        for store in stores:
            row = store.get_run(run_id, now=10)
            assert row is not None and row.lease_owner == winners[0] and row.attempts == 2
