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
