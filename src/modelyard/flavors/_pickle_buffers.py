"""Unpickling verified bytes without copying the large numpy arrays in them.

A pickle (protocol 5) stores a contiguous numpy array in-band: numpy reduces it to
``numpy._core.numeric._frombuffer(PickleBuffer(array), dtype, shape, order)``, and the
pickler writes the array's bytes as one ``BYTEARRAY8`` opcode outside any frame. Unpickling
that copies the bytes into a new ``bytearray``: for a 50 MiB model, a 50 MiB copy into fresh
memory, and the buffer the file was read into is then freed (both cost about as much as
reading the file). ``loads`` instead rewrites each such opcode into ``NEXT_BUFFER`` and hands
the unpickler a writable view of the bytes already in memory, so the array is built on them.

The rewrite is made only where the stream says the bytes are the first argument of numpy's
``_frombuffer`` (the global pushed right before, then the argument tuple's MARK), so every
other object gets what an in-band pickle gives it; anything else - another layout, another
protocol, arrays covering less than half the file (the rest of the buffer would be kept
alive for them) - is unpickled as is. Only ever called on bytes that were hashed already:
the stream is parsed to find frames, never trusted to be well formed.
"""

from __future__ import annotations

import mmap
import pickle
import struct
from collections.abc import Callable
from typing import Any

from modelyard.artifacts import Buffer

_PROTO = 0x80
_FRAME = 0x95
_BYTEARRAY8 = 0x96
_NEXT_BUFFER = b"\x97"
# The bytes before an array's BYTEARRAY8 the first time numpy's _frombuffer is pickled:
# SHORT_BINUNICODE module, MEMOIZE, SHORT_BINUNICODE "_frombuffer", MEMOIZE, STACK_GLOBAL,
# MEMOIZE, MARK.
_FROMBUFFER_TAILS = tuple(
    b"\x8c" + bytes([len(module)]) + module + b"\x94\x8c\x0b_frombuffer\x94\x93\x94("
    for module in (b"numpy._core.numeric", b"numpy.core.numeric")
)


def loads(data: bytes | Buffer, load: Callable[..., Any] = pickle.loads) -> Any:
    """``load(data)``, with numpy arrays stored in-band built on ``data``'s memory when
    ``data`` is writable (a bytearray or a private mapping, as ``read_hashed`` gives); ``load``
    is ``pickle.loads`` or ``cloudpickle.loads``."""
    plan = _plan(data) if isinstance(data, bytearray | mmap.mmap) else None
    if plan is None:
        return load(data)
    stream, spans = plan
    view = memoryview(data)
    return load(stream, buffers=[view[start:end] for start, end in spans])


def _plan(data: Buffer) -> tuple[bytes, list[tuple[int, int]]] | None:
    """The stream with eligible arrays replaced by NEXT_BUFFER, and their (start, end) in
    ``data``; None when nothing (or too little) is eligible or the layout is not the one
    described in the module's docstring."""
    if len(data) < 2 or data[0] != _PROTO or data[1] < 5:
        return None
    parts: list[bytes] = [bytes(data[:2])]
    spans: list[tuple[int, int]] = []
    at = 2
    while at < len(data):
        opcode = data[at]
        if opcode not in (_FRAME, _BYTEARRAY8) or at + 9 > len(data):
            return None  # an unframed opcode: not the layout this handles
        (size,) = struct.unpack_from("<Q", data, at + 1)
        start, end = at + 9, at + 9 + size
        if end > len(data):
            return None
        if opcode == _FRAME:
            parts.append(bytes(data[at:end]))
        elif parts[-1].endswith(_FROMBUFFER_TAILS):
            parts.append(_NEXT_BUFFER)
            spans.append((start, end))
        else:
            parts.append(bytes(data[at:end]))  # a bytearray of something else: as it was
        at = end
    if sum(end - start for start, end in spans) * 2 < len(data):
        return None
    return b"".join(parts), spans
