"""Memory slots: at most ``daemon.workers`` files that can take much memory are loaded at once.

A large file's batches hold hundreds of MB, so the number of such files in hand bounds the
daemon's peak. A small file holds a few MB, and making it wait for a slot would only leave a core
idle while a worker waits for the database: on PostgreSQL small files run on lane threads of
their own besides the slots.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from importer.sniffing import GZIP_MAGIC

SMALL_FILE_BYTES = 1 << 20
"""a file this small is hashed and read in a moment and holds a few MB: a second thread would
overlap nothing of it, and a memory slot would guard nothing"""
SMALL_FILE_THREADS = 2
"""lane threads beyond the slots on PostgreSQL: while one waits for the server another runs;
more gained nothing on two cores"""


def lane_threads(slots: int, backend: str) -> int:
    """Threads working lanes: one per slot, and on PostgreSQL a few more for small files. SQLite
    takes one writer at a time, and more threads only queued for its lock (fewer files a second)."""
    return slots + SMALL_FILE_THREADS if backend == "postgresql" else slots


def needs_slot(path: Path) -> bool:
    """A file of 1 MiB or more, or gzip data (which a small file can expand into)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(len(GZIP_MAGIC))
            size = handle.seek(0, 2)
    except OSError:
        return False
    return size >= SMALL_FILE_BYTES or head == GZIP_MAGIC


class MemorySlots:
    def __init__(self, count: int) -> None:
        self._free = threading.BoundedSemaphore(count)

    @contextmanager
    def held_for(self, path: Path) -> Iterator[bool]:
        """Holds a slot while ``path`` is loaded, if it needs one (waiting for a free one);
        yields whether it did."""
        if not needs_slot(path):
            yield False
            return
        with self._free:
            yield True
