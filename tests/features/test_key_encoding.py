"""The online key encoding: unambiguous, typed, and built the same way row by row (lookups)
and column-wise with Arrow (materialization)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from modelyard.core.signature import DType
from modelyard.features._entity_keys import KeySpec, encode_keys
from modelyard.features._online_format import encode_batch


def test_the_key_encoding_is_unambiguous_and_the_same_column_wise() -> None:
    text = [KeySpec("a", DType.STRING, "e"), KeySpec("b", DType.STRING, "e")]
    where = lambda k, i: f"{k}[{i}]"  # noqa: E731
    left = encode_keys([["a|b"], ["c"]], text, where)
    right = encode_keys([["a"], ["b|c"]], text, where)
    assert left != right and left == ["s3:a|bs1:c"]
    number = [KeySpec("a", DType.INT64, "e")]
    assert encode_keys([[1]], number, where) != encode_keys([["1"]], [text[0]], where)
    rng = np.random.default_rng(7)
    alphabet = [*"ab|:1 9é€😀s", "", "\n"]
    strings = ["".join(rng.choice(alphabet, size=rng.integers(0, 6))) for _ in range(500)]
    numbers = [int(v) for v in rng.integers(-(2**62), 2**62, size=500)] + [0, -1, 2**63 - 1, -(2**63)]
    strings += ["x"] * 4
    specs = [KeySpec("s", DType.STRING, "e"), KeySpec("n", DType.INT64, "e")]
    expected = encode_keys([strings, numbers], specs, where)
    assert len(set(expected)) == len(set(zip(strings, numbers, strict=True)))
    batch = pa.record_batch(
        {
            "s": pa.array(strings, pa.string()),
            "n": pa.array(numbers, pa.int64()),
            "__ms": pa.array([0] * len(strings), pa.int64()),
            "x": pa.array([1.0] * len(strings)),
        }
    )
    keys, _, payloads = encode_batch(batch, 2, ["x"])
    assert sorted(keys) == sorted(expected) and keys == sorted(keys)  # written in key order
    assert set(payloads) == {b'{"x":1.0}'}


def test_encoded_payloads_occupy_their_size() -> None:
    """orjson returns each document in a buffer of 4 KiB or more; kept as they are, a batch of
    payloads of 30 bytes would hold a hundred times their size."""
    import tracemalloc

    n = 10_000
    batch = pa.record_batch(
        {
            "k": pa.array(range(n), pa.int64()),
            "ms": pa.array([1] * n, pa.int64()),
            "x": pa.array([0.5] * n),
            "s": pa.array(["ab"] * n),
        }
    )
    tracemalloc.start()
    try:
        keys, _, payloads = encode_batch(batch, 1, ["x", "s"])
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert payloads[0] == b'{"x":0.5,"s":"ab"}' and len(keys) == n
    assert held < 1000 * n  # keys, stamps and payloads at their size, not 4 KiB a row
