"""Reading a local file once into memory, hashing it on the way.

What a loader verifies and what it then loads must be the same bytes: reading the file into
a private buffer and hashing that buffer gives this whatever happens to the file afterwards
(an open file descriptor would not: another writer can change the bytes under it). The
buffer is sized from ``fstat`` and filled chunk by chunk, each chunk hashed while it is
still in the CPU cache, so the file is read exactly once, with no copy beyond the read. It
is a ``bytearray`` so that unpickling can hand large arrays their memory in place
(``modelyard.flavors._pickle_buffers``) writable, as an in-band pickle gives them.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from modelyard.core.hashing import CHUNK_SIZE


def read_hashed(path: str | os.PathLike[str]) -> tuple[bytearray, str]:
    """The bytes of the regular file ``path`` and their sha256 (hex)."""
    with open(Path(path), "rb", buffering=0) as handle:
        size = os.fstat(handle.fileno()).st_size
        buffer = bytearray(size)
        view = memoryview(buffer)
        digest = hashlib.sha256()
        done = 0
        while done < size:
            got = handle.readinto(view[done : done + CHUNK_SIZE])
            if not got:
                break
            digest.update(view[done : done + got])
            done += got
        view.release()
        if done < size:  # the file shrank while read: hash what was read, which will not match
            del buffer[done:]
        elif rest := handle.read():  # it grew while read: keep and hash the rest too
            buffer += rest
            digest.update(rest)
    return buffer, digest.hexdigest()
