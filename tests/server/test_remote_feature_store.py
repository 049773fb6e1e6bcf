"""The feature store's own tests a second time, with the tracking URI pointing at a live team
server: applying definitions, planning, point-in-time training sets logged as run inputs, and
materialization from the watermark go through the server's feature registry API unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

import modelyard
from tests.features.conftest import repo  # noqa: F401 - the fixture the imported tests use
from tests.features.test_feature_store import (  # noqa: F401 - run again over HTTP
    store,
    test_apply_records_definitions_and_plans_changes,
    test_incremental_materialization_resumes_from_the_watermark,
    test_materialize_and_serve_online,
    test_on_demand_features_offline_and_online,
    test_point_in_time_join,
    test_training_set_is_a_dataset_input_of_the_run,
)

from .conftest import Live


@pytest.fixture
def fluent(live_server: Live, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The fluent API pointed at the live server (an editor's token): only the URI changes."""
    monkeypatch.setenv("MODELYARD_TRACKING_TOKEN", live_server.user("ada", "editor"))
    modelyard.set_tracking_uri(live_server.url)
    return live_server.url
