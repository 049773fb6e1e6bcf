"""Unpickling verified bytes builds large numpy arrays on them, and changes nothing else."""

from __future__ import annotations

import pickle
from typing import Any

import cloudpickle
import numpy as np
import pytest

from modelyard.flavors._pickle_buffers import loads

BIG = 1 << 18  # float64s: 2 MiB, well above the pickler's 64 KiB frame target


def _shares_memory(array: np.ndarray, data: bytearray) -> bool:
    return bool(np.shares_memory(array, np.frombuffer(data, dtype=np.uint8)))


@pytest.mark.parametrize("dump", [pickle.dumps, cloudpickle.dumps])
def test_a_large_array_is_built_on_the_verified_bytes_and_stays_writable(dump: Any) -> None:
    model = {"weights": np.arange(BIG, dtype=np.float64), "name": "m"}
    data = bytearray(dump(model, protocol=5))
    loaded = loads(data, cloudpickle.loads)
    assert loaded["name"] == "m"
    assert np.array_equal(loaded["weights"], model["weights"])
    assert _shares_memory(loaded["weights"], data)  # no copy
    loaded["weights"][0] = -1.0  # writable, as an in-band pickle gives it
    assert loaded["weights"][0] == -1.0


def test_other_large_objects_come_back_as_they_were_pickled() -> None:
    blob = bytearray(b"x" * (BIG * 8))
    value = {"raw": blob, "text": b"y" * (BIG * 8), "array": np.ones(16)}
    data = bytearray(pickle.dumps(value, protocol=5))
    loaded = loads(data)
    assert type(loaded["raw"]) is bytearray and loaded["raw"] == blob
    assert loaded["text"] == value["text"] and np.array_equal(loaded["array"], value["array"])


def test_immutable_bytes_old_protocols_and_small_arrays_unpickle_as_usual() -> None:
    array = np.arange(BIG, dtype=np.float64)
    for data in (pickle.dumps(array, protocol=5), bytearray(pickle.dumps(array, protocol=4))):
        assert np.array_equal(loads(data), array)
    small = bytearray(pickle.dumps(np.arange(10.0), protocol=5))
    assert np.array_equal(loads(small), np.arange(10.0))


def test_a_truncated_stream_fails_as_pickle_fails() -> None:
    data = bytearray(pickle.dumps(np.arange(BIG, dtype=np.float64), protocol=5))[:-100]
    with pytest.raises((pickle.UnpicklingError, EOFError, ValueError)):
        loads(data)


def test_a_large_file_is_read_into_a_private_mapping_and_loaded_in_place(tmp_path: Any) -> None:
    """Files of HUGE_PAGES_FROM bytes or more are read into an anonymous private mapping
    (asked for 2 MiB pages) instead of a bytearray: same bytes, same hash, arrays built on it."""
    import hashlib
    import mmap

    from modelyard.artifacts import read_hashed
    from modelyard.artifacts._read import HUGE_PAGES_FROM

    model = {"weights": np.arange(HUGE_PAGES_FROM // 8 + 1000, dtype=np.float64), "name": "m"}
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(model, protocol=5))
    data, digest = read_hashed(path)
    assert isinstance(data, mmap.mmap)
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest()
    loaded = loads(data, cloudpickle.loads)
    assert np.array_equal(loaded["weights"], model["weights"]) and loaded["name"] == "m"
    assert np.shares_memory(loaded["weights"], np.frombuffer(data, dtype=np.uint8))  # no copy
    path.write_bytes(b"changed after the read")  # the mapping is private: the loaded bytes stay
    loaded["weights"][0] = -1.0
    assert loaded["weights"][0] == -1.0 and loaded["weights"][1] == 1.0
    small, _ = read_hashed(tmp_path / "model.pkl")
    assert type(small) is bytearray and bytes(small) == b"changed after the read"
