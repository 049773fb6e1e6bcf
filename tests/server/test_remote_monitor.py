"""The monitor's own tests a second time, with its tracking URI pointing at a live team
server: windows with the reference from the model's lineage, stored results, alert rules and
their cool-down, the report, profile passes, windows from profiles and compaction go through
the server's monitoring and profile API unchanged."""

from __future__ import annotations

import pytest

from tests.monitoring.test_monitor import (  # noqa: F401 - run again over HTTP
    receiver,
    setup,
    test_windows_drift_performance_and_alerts,
)
from tests.monitoring.test_profiles import (  # noqa: F401 - run again over HTTP
    log,
    test_a_compacted_file_holding_unseen_rows_is_read_for_those_rows_only,
    test_a_pass_can_compact_the_days_it_has_profiled,
    test_a_pass_reads_only_the_files_new_since_the_last,
    test_compacted_files_are_not_read_again,
    test_drift_from_profiles_agrees_with_the_rows,
    test_results_from_profiles_are_stored_like_any_window,
)

from .conftest import Live


@pytest.fixture
def tracking_uri(live_server: Live, monkeypatch: pytest.MonkeyPatch) -> str:
    """The live server, with an editor's token: only the URI changes."""
    monkeypatch.setenv("MODELYARD_TRACKING_TOKEN", live_server.user("ada", "editor"))
    return live_server.url
