"""Reading a local file once into memory, hashing it on the way.

What a loader verifies and what it then loads must be the same bytes: reading the file into
a private buffer and hashing that buffer gives this whatever happens to the file afterwards
(an open file descriptor would not: another writer can change the bytes under it). The
buffer is sized from ``fstat`` and filled chunk by chunk, each chunk hashed while it is
still in the CPU cache, so the file is read exactly once, with no copy beyond the read. It
is writable so that unpickling can hand large arrays their memory in place
(``modelyard.flavors._pickle_buffers``), as an in-band pickle gives them.

A file of ``HUGE_PAGES_FROM`` bytes or more goes into an anonymous private mapping asked to
be backed by 2 MiB pages (``MADV_HUGEPAGE``) instead of a ``bytearray``: filling 50 MiB of
fresh memory 4 KiB at a time took 12,800 page faults, about as long as hashing the bytes; in
2 MiB pages it takes 25. The mapping is private to this process, so the verified bytes stay
the bytes loaded, as with a ``bytearray``. Where the kernel does not offer huge pages the
mapping is still used (it then faults as a ``bytearray`` would).
"""

from __future__ import annotations

import contextlib
import hashlib
import mmap
import os
from pathlib import Path

from modelyard.core.hashing import CHUNK_SIZE

HUGE_PAGES_FROM = 8 << 20

Buffer = bytearray | mmap.mmap


def _new_buffer(size: int) -> Buffer:
    if size < HUGE_PAGES_FROM:
        return bytearray(size)
    buffer = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    advise = getattr(mmap, "MADV_HUGEPAGE", None)  # Linux only
    if advise is not None:
        with contextlib.suppress(OSError):  # huge pages switched off: 4 KiB pages, as a bytearray
            buffer.madvise(advise)
    return buffer


def read_hashed(path: str | os.PathLike[str]) -> tuple[Buffer, str]:
    """The bytes of the regular file ``path`` (a writable buffer: a ``bytearray``, or an
    anonymous mapping for large files) and their sha256 (hex)."""
    with open(Path(path), "rb", buffering=0) as handle:
        size = os.fstat(handle.fileno()).st_size
        buffer = _new_buffer(size)
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
            return bytearray(buffer[:done]), digest.hexdigest()
        if rest := handle.read():  # it grew while read: keep and hash the rest too
            digest.update(rest)
            return bytearray(buffer[:]) + rest, digest.hexdigest()
    return buffer, digest.hexdigest()
