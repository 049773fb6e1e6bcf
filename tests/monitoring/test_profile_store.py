"""The monitor's cursor and hourly profiles in the metadata store, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pytest

from modelyard.core.errors import ConflictError
from modelyard.monitoring._profiles import _merge_bytes
from modelyard.monitoring._sketch import Profile
from modelyard.store import SqlStore
from modelyard.store._profile_store import ProfileStore


def _profile(values: list[float]) -> bytes:
    profile = Profile()
    profile.update(pa.table({"input_x": values}), ["input_x"])
    return profile.to_bytes()


@pytest.fixture
def store(store_url: str) -> Iterator[ProfileStore]:
    sql = SqlStore(store_url)
    yield sql.profiles
    sql.close()


def test_files_are_folded_in_once_and_hours_merge(store: ProfileStore) -> None:
    store.add(
        "credit", ["2026-06-01/a", "2026-06-01/b"], {0: (2, _profile([1.0, 2.0]))}, _merge_bytes
    )
    store.add(
        "credit",
        ["2026-06-01/c"],
        {0: (1, _profile([3.0])), 3_600_000: (1, _profile([4.0]))},
        _merge_bytes,
    )
    assert store.seen("credit", ["2026-06-01/a", "2026-06-01/c", "2026-06-01/z"]) == {
        "2026-06-01/a",
        "2026-06-01/c",
    }
    assert store.seen("other", ["2026-06-01/a"]) == set()
    hours = store.hours("credit", 0, 7_200_000)
    assert [(h, rows) for h, rows, _ in hours] == [(0, 3), (3_600_000, 1)]
    first = Profile.from_bytes(hours[0][2])
    assert first.rows == 3 and first.sketch("input_x", "numeric").count == 3  # type: ignore[union-attr]
    # a second pass that read a file already folded in writes nothing
    with pytest.raises(ConflictError, match="another monitor pass"):
        store.add(
            "credit", ["2026-06-01/d", "2026-06-01/a"], {0: (5, _profile([9.0] * 5))}, _merge_bytes
        )
    assert store.seen("credit", ["2026-06-01/d"]) == set()
    assert [rows for _, rows, _ in store.hours("credit", 0, 3_600_000)] == [3]


def test_folder_marks_are_replaced(store: ProfileStore) -> None:
    store.mark_folders("credit", {"2026-06-01": 5, "2026-06-02": 7})
    store.mark_folders("credit", {"2026-06-02": 9})
    store.mark_folders("credit", {})
    assert store.folder_marks("credit") == {"2026-06-01": 5, "2026-06-02": 9}
    assert store.folder_marks("other") == {}
