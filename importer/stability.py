"""When a file is complete: never read one that is still being written.

A file is ready when its size and mtime have not changed for ``stable_seconds`` across scans or,
where the source asks for it, as soon as its done-marker (``x.csv.done`` / ``x.csv.ok``) exists.
A file renamed into a watched folder is ready at once, as long as it is still what arrived: the
writer finished before it renamed (the safe way to drop a file, and how SFTP downloads land).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

MARKER_SUFFIXES = (".done", ".ok")


def is_marker(name: str) -> bool:
    return name.lower().endswith(MARKER_SUFFIXES)


def markers_of(path: Path) -> list[Path]:
    return [path.with_name(path.name + suffix) for suffix in MARKER_SUFFIXES]


@dataclass
class _Seen:
    size: int
    mtime_ns: int
    since: float


class StabilityGate:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._seen: dict[Path, _Seen] = {}
        self._renamed: dict[Path, tuple[int, int]] = {}
        """size and mtime of files as they were renamed into place (told from the watcher's
        thread)"""
        self._guard = threading.Lock()

    def renamed_in(self, path: Path) -> None:
        """``path`` (a file, or a folder of files) was just renamed into place."""
        for file in _files_at(path):
            try:
                stat = file.stat()
            except FileNotFoundError:
                continue
            with self._guard:
                self._renamed[file] = (stat.st_size, stat.st_mtime_ns)

    def written(self, path: Path) -> None:
        """``path`` was written after it arrived: only time tells when it is complete again."""
        with self._guard:
            self._renamed.pop(path, None)

    def ready(
        self,
        path: Path,
        stable_seconds: float,
        require_marker: bool,
        found: tuple[int, int] | None = None,
    ) -> bool:
        """Whether ``path`` may be taken now; call once per scan for every candidate. ``found``
        is its size and mtime (ns) as a scan just read them: a second ``stat`` of each waiting
        file took a scan of 10,000 files some 40 ms more."""
        if require_marker:
            return any(marker.exists() for marker in markers_of(path))
        if found is None:
            try:
                stat = path.stat()
            except FileNotFoundError:
                self._seen.pop(path, None)
                return False
            found = (stat.st_size, stat.st_mtime_ns)
        with self._guard:
            if self._renamed.get(path) == found:
                return True
        now = self._clock()
        seen = self._seen.get(path)
        if seen is None or (seen.size, seen.mtime_ns) != found:
            self._seen[path] = _Seen(*found, now)
            return stable_seconds == 0
        return now - seen.since >= stable_seconds

    def forget_missing(self, present: Iterable[Path]) -> None:
        """Drop what the last scan no longer found (taken, or deleted by the partner)."""
        keep = set(present)
        for path in list(self._seen):
            if path not in keep:
                del self._seen[path]
        with self._guard:
            for path in list(self._renamed):
                if path not in keep:
                    del self._renamed[path]


def _files_at(path: Path) -> list[Path]:
    if not path.is_dir():
        return [path]
    return [Path(folder, name) for folder, _, names in os.walk(path) for name in names]
