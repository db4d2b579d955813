"""When a file is complete: never read one that is still being written.

A file is ready when its size and mtime have not changed for ``stable_seconds`` across scans or,
where the source asks for it, as soon as its done-marker (``x.csv.done`` / ``x.csv.ok``) exists.
"""

from __future__ import annotations

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

    def ready(self, path: Path, stable_seconds: float, require_marker: bool) -> bool:
        """Whether ``path`` may be taken now; call once per scan for every candidate."""
        if require_marker:
            return any(marker.exists() for marker in markers_of(path))
        try:
            stat = path.stat()
        except FileNotFoundError:
            self._seen.pop(path, None)
            return False
        now = self._clock()
        seen = self._seen.get(path)
        if seen is None or (seen.size, seen.mtime_ns) != (stat.st_size, stat.st_mtime_ns):
            self._seen[path] = _Seen(stat.st_size, stat.st_mtime_ns, now)
            return stable_seconds == 0
        return now - seen.since >= stable_seconds

    def forget_missing(self, present: Iterable[Path]) -> None:
        """Drop what the last scan no longer found (taken, or deleted by the partner)."""
        keep = set(present)
        for path in list(self._seen):
            if path not in keep:
                del self._seen[path]
