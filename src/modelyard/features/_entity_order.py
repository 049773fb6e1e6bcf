"""A training set's rows put back in the entity frame's order.

The join returns each row with its row number in the entity frame (a permutation of
``0..n-1``), in whatever order the engine finished them. Putting them back is a scatter: every
row goes to its number. Arrow's ``take`` does it as a gather through the permutation's
inverse, one column at a time on one thread, and with the engine's result in many chunks it
finds every index's chunk first. At 1M rows that was a tenth of a 10M-row join.

Here a fixed-width column (integers, floats, dates, times, timestamps, durations) is
scattered chunk by chunk with numpy, which needs no inverse, no chunk lookup and no
concatenation, and the columns are spread over threads (numpy's fancy assignment releases the
GIL). Other columns (strings, booleans, decimals, nested types) are taken by Arrow.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pyarrow as pa

PARALLEL_ROWS = 1 << 16  # below this one Arrow take per column is quicker than threads


def _width(kind: pa.DataType) -> int:
    """Bytes per value of a column that can be scattered as raw values; 0 for the others."""
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_temporal(kind):
        width = kind.bit_width // 8
        return width if width in (1, 2, 4, 8) else 0  # intervals (16 bytes) are taken
    return 0


def _scatter(column: pa.ChunkedArray, position: np.ndarray, width: int) -> pa.Array:
    """``column``'s row i at ``position[i]``: values and validity scattered chunk by chunk."""
    n = len(position)
    values = np.empty(n, dtype=f"u{width}")
    valid = np.ones(n, dtype=bool) if column.null_count else None
    start = 0
    for chunk in column.chunks:
        size = len(chunk)
        if not size:  # an empty chunk may have no values buffer at all
            continue
        where = position[start : start + size]
        raw = np.frombuffer(chunk.buffers()[1], dtype=values.dtype, count=chunk.offset + size)
        values[where] = raw[chunk.offset :]
        if valid is not None and chunk.null_count:
            valid[where] = chunk.is_valid().to_numpy(zero_copy_only=False)
        start += size
    bitmap = None if valid is None else pa.py_buffer(np.packbits(valid, bitorder="little"))
    return pa.Array.from_buffers(
        column.type, n, [bitmap, pa.py_buffer(values)], null_count=column.null_count
    )


def _inverse(position: np.ndarray) -> np.ndarray:
    take = np.empty(len(position), dtype=np.int64)
    take[position] = np.arange(len(position), dtype=np.int64)
    return take


def by_row_numbers(table: pa.Table, position: np.ndarray) -> pa.Table:
    """``table`` with its row i moved to ``position[i]`` (``position`` is a permutation of
    ``0..n-1``)."""
    if table.num_rows < PARALLEL_ROWS:
        return table.take(_inverse(position))
    widths = [_width(kind) for kind in table.schema.types]
    inverse = None if all(widths) else pa.array(_inverse(position))

    def place(i: int) -> Any:
        column = table.column(i)
        return _scatter(column, position, widths[i]) if widths[i] else column.take(inverse)

    workers = min(os.cpu_count() or 1, table.num_columns)
    if workers < 2:
        columns = [place(i) for i in range(table.num_columns)]
    else:
        with ThreadPoolExecutor(workers) as pool:
            columns = list(pool.map(place, range(table.num_columns)))
    return pa.Table.from_arrays(columns, schema=table.schema)
